/**
 * Checks an object against a CRD's openAPIV3Schema the way the API server's structural schema
 * does for the parts we generate: types, required fields, enums, patterns, bounds — and reports
 * fields the schema does not know (the API server would silently prune them).
 */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
}

export function validateAgainstSchema(value: unknown, schema: Schema, path = ""): string[] {
  const errors: string[] = [];
  const at = path || "(root)";
  if (schema["x-kubernetes-int-or-string"]) {
    if (typeof value !== "string" && typeof value !== "number")
      errors.push(`${at}: must be int or string`);
    return errors;
  }
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${at}: must be an object`];
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? [])
        if (!(key in record)) errors.push(`${at}: missing required field "${key}"`);
      for (const [key, child] of Object.entries(record)) {
        const childPath = path ? `${path}.${key}` : key;
        const known = schema.properties?.[key];
        if (known) errors.push(...validateAgainstSchema(child, known, childPath));
        else if (typeof schema.additionalProperties === "object")
          errors.push(...validateAgainstSchema(child, schema.additionalProperties, childPath));
        else if (
          !schema["x-kubernetes-preserve-unknown-fields"] &&
          schema.additionalProperties !== true &&
          path !== "metadata"
        )
          errors.push(`${childPath}: unknown field`);
      }
      return errors;
    }
    case "array":
      if (!Array.isArray(value)) return [`${at}: must be an array`];
      return value.flatMap((item, i) =>
        schema.items ? validateAgainstSchema(item, schema.items, `${path}[${i}]`) : [],
      );
    case "string":
      if (typeof value !== "string") return [`${at}: must be a string`];
      if (schema.pattern && !new RegExp(schema.pattern).test(value))
        errors.push(`${at}: "${value}" does not match ${schema.pattern}`);
      if (schema.minLength !== undefined && value.length < schema.minLength)
        errors.push(`${at}: shorter than ${schema.minLength}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        errors.push(`${at}: longer than ${schema.maxLength}`);
      break;
    case "boolean":
      if (typeof value !== "boolean") return [`${at}: must be a boolean`];
      break;
    case "integer":
    case "number":
      if (typeof value !== "number" || (schema.type === "integer" && !Number.isInteger(value)))
        return [`${at}: must be a ${schema.type}`];
      if (schema.minimum !== undefined && value < schema.minimum)
        errors.push(`${at}: below ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum)
        errors.push(`${at}: above ${schema.maximum}`);
      break;
    case undefined:
      // No type: any value (only an enum below applies).
      break;
  }
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  return errors;
}

interface Crd {
  spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
}

/** The openAPIV3Schema of one served version of a CRD document. */
export function crdSchema(crd: Crd, version: string): Schema {
  const served = crd.spec.versions.find((v) => v.name === version);
  if (!served) throw new Error(`the CRD serves no version ${version}`);
  return served.schema.openAPIV3Schema;
}
