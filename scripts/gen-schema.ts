// Writes schemas/ksail.schema.json from the zod schema (the single source of truth).
import { writeFile } from "node:fs/promises";
import { ksailJsonSchema } from "../src/config/json-schema.js";

await writeFile(
  new URL("../schemas/ksail.schema.json", import.meta.url),
  `${JSON.stringify(ksailJsonSchema(), null, 2)}\n`,
);
