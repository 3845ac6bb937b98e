import { render } from 'preact';
import { App } from './app';
import { SignIn, whoami } from './sign-in';
import './styles.css';

const root = document.getElementById('app')!;
void whoami().then((me) => {
  if (me.kind === 'sign-in') render(<SignIn reason={me.reason} />, root);
  else render(<App account={me.kind === 'signed-in' ? me.account : null} />, root);
});
