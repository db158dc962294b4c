import { badRequest } from './management-error';
import type { UploadedFile } from './auth-files.service';

export const MULTIPART_CONTENT_TYPE = 'multipart/form-data';

/**
 * The file parts of a multipart/form-data body (POST /auth-files), in the order sent; other
 * fields are ignored. Parsed by the runtime's own Fetch implementation, so no multipart
 * dependency is needed; a part's name is reduced to its base name, as CLIProxyAPI does.
 */
export async function readMultipartFiles(body: Buffer, contentType: string): Promise<UploadedFile[]> {
  let form: FormData;
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw badRequest('invalid multipart form');
  }
  const files: UploadedFile[] = [];
  for (const [, value] of form) {
    if (typeof value === 'string') continue;
    files.push({ name: value.name.split(/[/\\]/).pop() ?? '', content: Buffer.from(await value.arrayBuffer()) });
  }
  return files;
}
