/**
 * Reply frames from a handler to the gateway pod that asked. The first frame of every
 * reply carries `head` (status and headers); later frames carry raw body bytes. A whole
 * non-streamed response (or a final error) is one frame with head and body together.
 * The end of the reply is the end of the transport stream.
 */
export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
  /** Set when this same frame carries the whole body, so the gateway can send Content-Length. */
  complete?: boolean;
}
