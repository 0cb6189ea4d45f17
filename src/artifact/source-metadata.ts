/**
 * Default `source`, `revision` and `created` annotations for a source directory, from the git CLI
 * when the directory is inside a git work tree (Flux's revision convention `<branch>@sha1:<commit>`).
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

export interface SourceMetadata {
  source: string;
  /** `<branch>@sha1:<commit>` ("HEAD@sha1:…" when detached); undefined outside git. */
  revision?: string;
  /**
   * The commit's committer time (RFC 3339, UTC, whole seconds) when the directory has no
   * uncommitted changes — then the content is that commit's; undefined otherwise.
   */
  created?: string;
}

/** Environment for git without variables that would point it at another repository. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
  for (const key of [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
  ]) {
    delete env[key];
  }
  return env;
}

/** Runs git in `cwd`; undefined when git is missing or the command fails. */
function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    execFile(
      "git",
      ["-C", cwd, ...args],
      { env: gitEnv(), timeout: 10_000, windowsHide: true },
      (error, stdout) => {
        resolvePromise(error ? undefined : stdout.trim());
      },
    );
  });
}

/**
 * Removes credentials from a remote URL: user and password of http(s) and other URL schemes
 * (a user part there is usually a token), the password only for ssh:// URLs (the user there is an
 * account name such as `git`), and the query string and fragment everywhere (hosting services
 * accept tokens there too, e.g. `?access_token=…`). scp-like `git@host:path` keeps its user.
 */
export function stripCredentials(remote: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) {
    // scp-like `[user@]host:path`: no query syntax, but nothing after "?" or "#" is a path either.
    return /^[^/]*:/.test(remote) ? remote.replace(/[?#].*$/s, "") : remote;
  }
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    // Not parseable: drop anything between "://" and the last "@" of the authority, and the
    // query and fragment.
    return remote.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, "$1").replace(/[?#].*$/s, "");
  }
  const hasQuery = url.search !== "" || url.hash !== "" || /[?#]/.test(remote);
  if (url.username === "" && url.password === "" && !hasQuery) return remote;
  url.password = "";
  if (url.protocol !== "ssh:" && url.protocol !== "git+ssh:") url.username = "";
  url.search = "";
  url.hash = "";
  // An empty "?" or "#" survives the setters in some URL forms; the parts are gone either way.
  return url.toString().replace(/[?#]+$/, "");
}

/** A git date (ISO 8601 with offset) as RFC 3339 in UTC, whole seconds, as Flux writes it. */
function utcSeconds(gitDate: string | undefined): string | undefined {
  const ms = gitDate === undefined ? NaN : Date.parse(gitDate);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Whether `dir` or a parent holds `.git` (a directory, or a file for worktrees and submodules):
 * git's own discovery needs one (GIT_DIR is not passed on), so without it no git process is
 * started at all.
 */
async function mayBeInGitWorkTree(dir: string): Promise<boolean> {
  for (let current = dir; ;) {
    try {
      await access(join(current, ".git"));
      return true;
    } catch {
      // not here; try the parent
    }
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

export async function detectSourceMetadata(root: string): Promise<SourceMetadata> {
  const absRoot = resolve(root);
  if (!(await mayBeInGitWorkTree(absRoot))) return { source: absRoot };
  const inside = await git(absRoot, ["rev-parse", "--is-inside-work-tree"]);
  if (inside !== "true") return { source: absRoot };

  const [remote, commit, branch, committed, changes] = await Promise.all([
    git(absRoot, ["remote", "get-url", "origin"]),
    git(absRoot, ["rev-parse", "--verify", "-q", "HEAD^{commit}"]),
    git(absRoot, ["symbolic-ref", "--short", "-q", "HEAD"]),
    git(absRoot, ["show", "-s", "--format=%cI", "HEAD"]),
    // Changed or untracked files in this directory (not the whole repository); --no-optional-locks
    // keeps `status` from rewriting the index while another git command runs.
    git(absRoot, [
      "--no-optional-locks",
      "status",
      "--porcelain",
      "--untracked-files=all",
      "--",
      ".",
    ]),
  ]);
  const source = remote !== undefined && remote !== "" ? stripCredentials(remote) : absRoot;
  if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return { source };
  const ref = branch !== undefined && branch !== "" ? branch : "HEAD";
  const algorithm = commit.length === 64 ? "sha256" : "sha1";
  const created = changes === "" ? utcSeconds(committed) : undefined;
  return {
    source,
    revision: `${ref}@${algorithm}:${commit}`,
    ...(created === undefined ? {} : { created }),
  };
}
