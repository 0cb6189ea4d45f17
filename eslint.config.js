import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The floors of src/: a folder may import its own floor and the ones below, never one above.
 * `cli/` is the top (commands and handlers) and `ui/` the terminal; `workload/` composes the
 * services; every other folder (a new one too) is a service or below. A breach fails
 * `npm run lint`, for static imports, re-exports, type imports and dynamic `import()` alike. No
 * part of src/ imports lab/, test/, bench/ or scripts/ (OUTSIDE).
 */
const OUTSIDE = ["lab", "test", "bench", "scripts"];
const FLOORS = [
  // Nothing in src/ (the shipped CLI) imports the lab, the tests, the benchmarks or the scripts:
  // src/ has no folders of those names, so such a path can only leave src/.
  { files: ["src/cli/**/*.ts", "src/ui/**/*.ts"], above: OUTSIDE },
  { files: ["src/workload/**/*.ts"], above: ["cli", "ui", ...OUTSIDE] },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/cli/**", "src/ui/**", "src/workload/**"],
    above: ["cli", "ui", "workload", ...OUTSIDE],
  },
];

function boundary({ files, ignores = [], above }) {
  const folders = `(${above.join("|")})`;
  // The import string names a folder above: "../workload/push.js", "../../cli/options.js".
  const regex = `^(\\.\\.?/)+(\\.\\./)*${folders}/`;
  const message = `this part of src/ must not import ${above.map((f) => `${f}/`).join(", ")} (see eslint.config.js FLOORS)`;
  return {
    files,
    ignores,
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex, message }] }],
      "no-restricted-syntax": [
        "error",
        {
          selector: `ImportExpression[source.value=/${regex.replaceAll("/", "\\/")}/]`,
          message,
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        fetch: "readonly",
        Response: "readonly",
        Headers: "readonly",
        TextDecoder: "readonly",
        TextEncoder: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        performance: "readonly",
        structuredClone: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  // The async rules that matter in a CLI: a promise nobody awaits loses its error (and the exit
  // code), one passed where a plain callback is expected is never awaited, and a switch over a
  // union that misses a member falls through silently.
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true } },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test runs what describe/it/test return; nobody awaits them by design.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true },
      ],
    },
  },
  ...FLOORS.map(boundary),
  // Every user-tunable value is resolved once, in src/config/load.ts, from the settings table
  // (src/config/settings.ts); services get the values, never the environment. The exceptions:
  // the CLI's entry point (the one place the CLI takes the environment), load.ts's default for
  // library callers, and the git child process's environment (source-metadata.ts).
  {
    files: ["src/**/*.ts"],
    ignores: ["src/cli/main.ts", "src/config/load.ts", "src/artifact/source-metadata.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        {
          object: "process",
          property: "env",
          message:
            "services do not read process.env: add the value to src/config/settings.ts, resolve it in src/config/load.ts and pass it down",
        },
      ],
    },
  },
);
