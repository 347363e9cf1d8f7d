import { createContext, useCallback, useContext, useLayoutEffect, useMemo, useState, type ReactNode } from 'react';
import { ar } from './ar';
import { en, type Messages } from './en';
import { applyDocumentLanguage, dirOf, initialLang, LANG_STORAGE_KEY, type Lang } from './lang';
import type { Job, TaskFunctionInfo } from '../types/api';
import { formatDateTime } from '../format/time';

/** localStorage key of the UTC switch ("1": times in UTC, else the browser's zone). */
export const UTC_STORAGE_KEY = 'jobscheduler.utc';

function initialUtc(): boolean {
  try {
    return localStorage.getItem(UTC_STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

export type { Lang, Messages };
export { dirOf };

export const MESSAGES: Record<Lang, Messages> = { en, ar };

export interface I18n {
  lang: Lang;
  dir: 'ltr' | 'rtl';
  t: Messages;
  setLang: (lang: Lang) => void;
  toggleLang: () => void;
  /** Times shown in UTC (the header switch) rather than in the browser's zone. */
  utc: boolean;
  toggleUtc: () => void;
  /** An instant as date and time labelled with its zone: `zone` when given (a job's zone), else UTC or the browser's. */
  time: (iso: string | undefined, zone?: string) => string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children, lang: forced }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => forced ?? initialLang());

  // Layout effect: the document direction flips before the browser paints the new language.
  useLayoutEffect(() => applyDocumentLanguage(lang), [lang]);

  const [utc, setUtc] = useState<boolean>(initialUtc);
  const toggleUtc = useCallback(() => {
    setUtc((current) => {
      try {
        localStorage.setItem(UTC_STORAGE_KEY, current ? '0' : '1');
      } catch {
        // Not persisted; the switch still applies to this page.
      }
      return !current;
    });
  }, []);

  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(LANG_STORAGE_KEY, next);
    } catch {
      // Not persisted; the switch still applies to this page.
    }
  }, []);

  const value = useMemo<I18n>(
    () => ({
      lang,
      dir: dirOf(lang),
      t: MESSAGES[lang],
      setLang,
      toggleLang: () => setLang(lang === 'en' ? 'ar' : 'en'),
      utc,
      toggleUtc,
      time: (iso, zone) => formatDateTime(iso, lang, zone ?? (utc ? 'UTC' : undefined)),
    }),
    [lang, setLang, utc, toggleUtc],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside <I18nProvider>');
  return value;
}

/** The job's name in the current language, falling back to the other language, then to its task. */
export function jobName(job: Pick<Job, 'id' | 'nameEn' | 'nameAr' | 'taskFunctionKey'>, lang: Lang): string {
  const preferred = lang === 'ar' ? (job.nameAr ?? job.nameEn) : (job.nameEn ?? job.nameAr);
  return preferred?.trim() || `${job.taskFunctionKey} #${job.id}`;
}

export function taskName(task: Pick<TaskFunctionInfo, 'key' | 'nameEn' | 'nameAr'>, lang: Lang): string {
  return (lang === 'ar' ? task.nameAr : task.nameEn) || task.key;
}

/** t[`${prefix}${name}`] when such a label exists, else the name as the API sent it. */
export function labelOf(t: Messages, prefix: 'status_' | 'instance_' | 'mode_' | 'trigger_', name: string): string {
  const label = t[`${prefix}${name}` as keyof Messages];
  return typeof label === 'string' ? label : name;
}

/** Localized execution status name; unknown statuses are shown as the API names them. */
export function statusLabel(t: Messages, statusName: string): string {
  const key = `status_${statusName}` as keyof Messages;
  const label = t[key];
  return typeof label === 'string' ? label : statusName;
}
