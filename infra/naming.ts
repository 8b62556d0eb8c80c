/** `create-project` → `CreateProject`: construct ids from kebab-case file and workflow names. */
export const pascalCase = (kebab: string): string =>
  kebab
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

/** `GET /v1/projects/{project}` → `GetV1ProjectsByProject`: a stable construct id per route. */
export const routeId = (method: string, path: string): string =>
  pascalCase(method.toLowerCase()) +
  path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith('{') ? `By${pascalCase(segment)}` : pascalCase(segment)))
    .join('');
