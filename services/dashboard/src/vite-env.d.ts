/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Base path of the scheduler API; default "api/v1/scheduler" under the page's base URL (same origin). */
  readonly VITE_API_BASE?: string;
}
