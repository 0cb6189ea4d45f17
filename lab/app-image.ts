/**
 * A project's own image for tests, buildable with no registry reachable: `FROM scratch` with
 * Debian's static busybox (apt package busybox-static) and a small web root. The default
 * command serves /www on port 8080 with busybox httpd, so a pod running it answers with the
 * content of `www/index.html`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const BUSYBOX = "/bin/busybox";

export const APP_DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY www/ /www/
EXPOSE 8080
ENTRYPOINT ["/bin/busybox"]
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`;

export function requireBusybox(): string {
  // Debian's busybox-static installs a static binary at /bin/busybox; the dynamic `busybox`
  // package would not run FROM scratch.
  if (!existsSync(BUSYBOX))
    throw new Error("busybox is not installed: run `apt-get install -y busybox-static`");
  return BUSYBOX;
}

/**
 * Writes an image context: Dockerfile, busybox, www/index.html saying `content`, plus any
 * `extra` files (path → content). Returns the context directory.
 */
export function writeAppContext(
  content: string,
  extra: Record<string, string> = {},
  directory?: string,
): string {
  const dir = directory ?? mkdtempSync(join(tmpdir(), "ksail-app-"));
  mkdirSync(join(dir, "www"), { recursive: true });
  copyFileSync(requireBusybox(), join(dir, "busybox"));
  writeFileSync(join(dir, "Dockerfile"), APP_DOCKERFILE);
  writeFileSync(join(dir, "www", "index.html"), `${content}\n`);
  for (const [path, text] of Object.entries(extra)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/**
 * The Deployment the image tests apply: container `web` running `image` (by default the bare
 * name `web`, as a project's manifests name its own image), with optional annotations so a test
 * can change the manifest without touching the image.
 */
export function appDeployment(
  options: { image?: string; annotations?: Record<string, string> } = {},
): string {
  const annotations = Object.entries(options.annotations ?? {});
  return [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    "  name: web",
    "  namespace: default",
    ...(annotations.length > 0
      ? ["  annotations:", ...annotations.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)]
      : []),
    "spec:",
    "  selector:",
    "    matchLabels: { app: web }",
    "  template:",
    "    metadata:",
    "      labels: { app: web }",
    "    spec:",
    "      containers:",
    "        - name: web",
    `          image: ${options.image ?? "web"}`,
    "",
  ].join("\n");
}
