import * as z from 'zod';
import { NotFoundError } from '../../core/errors.js';
import {
  artifactCompleteBody,
  artifactUploadBody,
  artifactUploadResponse,
  modelVersion,
  versionPath,
} from '../../core/schemas/index.js';
import { completeArtifact, requestArtifactUpload } from '../../core/use-cases/artifacts.js';
import { parseOrThrow } from '../../core/validation.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

/** `artifact:upload` and `artifact:complete` share one API Gateway route (no ":" in route paths). */
export const route = defineRoute({
  method: 'POST',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/{action}',
  summary: 'artifact:upload (presigned PUT URLs) or artifact:complete (verify files, record the manifest)',
  responses: { 200: z.union([artifactUploadResponse, modelVersion]) },
  params: versionPath.extend({ action: z.string() }),
  main: ({ deps, params, rawBody }) => {
    const { action, ...key } = params;
    if (action === 'artifact:upload') {
      return requestArtifactUpload(deps, key, parseOrThrow(artifactUploadBody, rawBody ?? {}, 'body'));
    }
    if (action === 'artifact:complete') {
      return completeArtifact(deps, key, parseOrThrow(artifactCompleteBody, rawBody ?? {}, 'body'));
    }
    throw new NotFoundError(`unknown action "${action}"; use artifact:upload or artifact:complete`);
  },
});
export const handler = httpHandler(route);
