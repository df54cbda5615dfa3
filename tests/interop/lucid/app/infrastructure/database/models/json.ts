/**
 * Options of a jsonb `@column`. node-pg parses json/jsonb itself on read, but on
 * write it sends a JS array as a PostgreSQL array literal, so every document is
 * serialised here.
 */
export const json = {
  prepare: (value: unknown) => (value === null || value === undefined ? value : JSON.stringify(value)),
}
