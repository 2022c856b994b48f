/** The coordinator's version, reported by GET /healthz. */
export const COORDINATOR_VERSION = '0.1.0';
