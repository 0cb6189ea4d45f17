/**
 * Image names as the engines report them. Docker keeps the name a container was created with
 * (`registry:3`); Podman reports the fully qualified one (`docker.io/library/registry:3`).
 * Both mean the same image, so ksail compares names in their fully qualified form, which is
 * github.com/distribution/reference's normalization (ParseNormalizedNamed): no registry host →
 * docker.io, a one-part path on docker.io → library/…, no tag or digest → :latest.
 */
export function qualifiedImageName(image: string): string {
  let name = image.trim();
  let suffix = "";
  const at = name.indexOf("@");
  if (at >= 0) [name, suffix] = [name.slice(0, at), name.slice(at)];
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/"))
    [name, suffix] = [name.slice(0, colon), name.slice(colon) + suffix];
  else if (suffix === "") suffix = ":latest";
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const hasHost = first.includes(".") || first.includes(":") || first === "localhost";
  let domain = hasHost ? first : "docker.io";
  let path = hasHost ? name.slice(slash + 1) : name;
  if (domain === "index.docker.io") domain = "docker.io";
  if (domain === "docker.io" && !path.includes("/")) path = `library/${path}`;
  return `${domain}/${path}${suffix}`;
}

/** Whether two image names mean the same image (`registry:3` = `docker.io/library/registry:3`). */
export function sameImage(a: string, b: string): boolean {
  return qualifiedImageName(a) === qualifiedImageName(b);
}
