// The page's words, in one message catalogue per language (i18next): the
// regions' languages and English. The choice is kept for the tab's life
// (sessionStorage), so it survives the trip to the IdP and back.
import i18next from 'i18next';
import de from './de.json';
import en from './en.json';
import es from './es.json';
import it from './it.json';
import pl from './pl.json';

export const LANGUAGES = [
  { code: 'en', name: 'English' },
  { code: 'it', name: 'Italiano' },
  { code: 'es', name: 'Español' },
  { code: 'de', name: 'Deutsch' },
  { code: 'pl', name: 'Polski' },
] as const;
export type Language = (typeof LANGUAGES)[number]['code'];

export const CATALOGUES: Readonly<Record<Language, Record<string, unknown>>> = {
  en,
  it,
  es,
  de,
  pl,
};

const LANGUAGE_KEY = 'tessera.language';

function isLanguage(code: string | null | undefined): code is Language {
  return LANGUAGES.some((l) => l.code === code);
}

/** The tab's choice, else the browser's first language we have, else English. */
export function initialLanguage(): Language {
  const kept = sessionStorage.getItem(LANGUAGE_KEY);
  if (isLanguage(kept)) return kept;
  for (const tag of navigator.languages) {
    const code = tag.slice(0, 2).toLowerCase();
    if (isLanguage(code)) return code;
  }
  return 'en';
}

export async function setupI18n(language: Language): Promise<void> {
  await i18next.init({
    lng: language,
    fallbackLng: 'en',
    resources: Object.fromEntries(
      Object.entries(CATALOGUES).map(([code, words]) => [code, { translation: words }]),
    ),
    interpolation: { escapeValue: false }, // Preact escapes text
    returnNull: false,
  });
  document.documentElement.lang = language;
}

export async function switchLanguage(language: Language): Promise<void> {
  sessionStorage.setItem(LANGUAGE_KEY, language);
  await i18next.changeLanguage(language);
  document.documentElement.lang = language;
}

export const t = (key: string, options?: Record<string, unknown>): string =>
  i18next.t(key, options ?? {});
export const language = (): Language => (isLanguage(i18next.language) ? i18next.language : 'en');
