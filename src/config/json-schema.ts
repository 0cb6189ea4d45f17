/** JSON Schema (draft 2020-12) for editors, generated from the ksail.yaml zod schema. */
import { toJSONSchema } from "zod/v4";
import { ksailConfigSchema } from "./schema.js";

export function ksailJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://ksail.dev/schemas/ksail.schema.json",
    title: "ksail.yaml",
    ...toJSONSchema(ksailConfigSchema, { io: "input" }),
  };
}
