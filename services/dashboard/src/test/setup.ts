import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  localStorage.clear();
  window.location.hash = '';
  document.documentElement.removeAttribute('dir');
  document.documentElement.removeAttribute('lang');
});
