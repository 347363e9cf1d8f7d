export type Lang = 'en' | 'ar';

export const LANGS: readonly Lang[] = ['en', 'ar'];
export const LANG_STORAGE_KEY = 'scheduler.lang';

export function dirOf(lang: Lang): 'ltr' | 'rtl' {
  return lang === 'ar' ? 'rtl' : 'ltr';
}

/** Set <html lang dir>: the whole document lays out right to left in Arabic. */
export function applyDocumentLanguage(lang: Lang): void {
  document.documentElement.lang = lang;
  document.documentElement.dir = dirOf(lang);
}

export function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(LANG_STORAGE_KEY);
    if (stored === 'en' || stored === 'ar') return stored;
  } catch {
    // Storage blocked (privacy mode): fall through to the browser's language.
  }
  return typeof navigator !== 'undefined' && navigator.language.toLowerCase().startsWith('ar') ? 'ar' : 'en';
}
