import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { LanguageSwitch } from '../components/Layout';
import { ar } from './ar';
import { en } from './en';
import { I18nProvider, jobName, statusLabel, useI18n } from './index';
import { LANG_STORAGE_KEY } from './lang';

function Probe() {
  const { t, lang, dir } = useI18n();
  return (
    <p data-testid="probe" data-lang={lang} data-dir={dir}>
      {t.navJobs}
    </p>
  );
}

describe('language switch', () => {
  it('switches labels, sets <html dir="rtl" lang="ar"> and remembers the choice', async () => {
    render(
      <I18nProvider lang="en">
        <LanguageSwitch />
        <Probe />
      </I18nProvider>,
    );
    expect(screen.getByTestId('probe')).toHaveTextContent('Jobs');
    expect(document.documentElement).toHaveAttribute('dir', 'ltr');
    expect(document.documentElement).toHaveAttribute('lang', 'en');

    await userEvent.click(screen.getByTestId('lang-switch'));
    expect(screen.getByTestId('probe')).toHaveTextContent('المهام');
    expect(document.documentElement).toHaveAttribute('dir', 'rtl');
    expect(document.documentElement).toHaveAttribute('lang', 'ar');
    expect(localStorage.getItem(LANG_STORAGE_KEY)).toBe('ar');
    expect(screen.getByTestId('lang-switch')).toHaveTextContent('English');

    await userEvent.click(screen.getByTestId('lang-switch'));
    expect(document.documentElement).toHaveAttribute('dir', 'ltr');
  });

  it('starts in the remembered language', () => {
    localStorage.setItem(LANG_STORAGE_KEY, 'ar');
    render(
      <I18nProvider>
        <Probe />
      </I18nProvider>,
    );
    expect(screen.getByTestId('probe')).toHaveAttribute('data-dir', 'rtl');
    expect(document.documentElement).toHaveAttribute('dir', 'rtl');
  });

  it('useI18n outside the provider is a programming error', () => {
    const spy = () => render(<Probe />);
    expect(spy).toThrow(/I18nProvider/);
  });
});

describe('messages', () => {
  it('Arabic has every English key, all translated', () => {
    expect(Object.keys(ar).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(ar)) {
      if (typeof value === 'string') expect(value, key).not.toBe('');
      else expect(typeof value, key).toBe(typeof en[key as keyof typeof en]);
    }
    // Spot check that the Arabic file is not a copy of the English one.
    const same = Object.keys(en).filter((k) => typeof en[k as keyof typeof en] === 'string' && en[k as keyof typeof en] === ar[k as keyof typeof ar]);
    expect(same.sort()).toEqual(['jsonHint', 'none', 'utcSwitch']);
  });

  it('names a job in the current language with fallbacks', () => {
    const job = { id: 7, taskFunctionKey: 'noop', nameEn: 'Sync', nameAr: 'مزامنة' };
    expect(jobName(job, 'en')).toBe('Sync');
    expect(jobName(job, 'ar')).toBe('مزامنة');
    expect(jobName({ ...job, nameAr: undefined }, 'ar')).toBe('Sync');
    expect(jobName({ id: 7, taskFunctionKey: 'noop' }, 'en')).toBe('noop #7');
  });

  it('labels known statuses and passes unknown ones through', () => {
    expect(statusLabel(ar, 'success')).toBe('نجاح');
    expect(statusLabel(en, 'cancelled')).toBe('cancelled');
  });
});

