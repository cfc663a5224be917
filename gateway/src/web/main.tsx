// The page's start: its settings from the gateway, the message catalogue,
// the sign-in (completing it when the IdP has just sent the browser back),
// then the app.
import { render } from 'preact';
import { App, OPEN_SAVED_KEY } from './App.tsx';
import { type SignInSettings, Session } from './auth/session.ts';
import { initialLanguage, setupI18n, t } from './i18n/index.ts';

async function start(): Promise<void> {
  await setupI18n(initialLanguage());
  const root = document.getElementById('app')!;
  const config = (await fetch('/web-config.json').then((res) => res.json())) as {
    signIn: SignInSettings | null;
  };
  const redirectUri = `${window.location.origin}/`;
  // A shared link (`/?saved=<id>`): its id waits for the researcher to be signed in.
  const opened = new URL(window.location.href);
  const saved = opened.searchParams.get('saved');
  if (saved !== null && /^[A-Za-z0-9_-]{1,100}$/.test(saved)) {
    sessionStorage.setItem(OPEN_SAVED_KEY, saved);
    window.history.replaceState(null, '', opened.pathname);
  }
  const session = config.signIn ? new Session(config.signIn, redirectUri) : undefined;
  let signInError: string | undefined;
  if (session) {
    try {
      await session.completeSignIn(new URL(window.location.href));
    } catch {
      signInError = t('app.signInFailed');
    }
  }
  render(<App session={session} signInError={signInError} />, root);
}

void start();
