import { describe, expect, it } from 'vitest';
import { gatherDigits } from '../../src/cli/simulator.js';
import { loadPromptCatalog } from '../../src/prompts.js';
import { TwimlRenderer } from '../../src/voice/twiml.js';

const speech = { catalog: loadPromptCatalog(), voices: { 'en-US': 'Polly.Joanna' } };
const renderer = new TwimlRenderer(speech, 'https://pinline.example');

describe('TwiML rendering', () => {
  it('when the dialog asks for an ID or PIN, then the Gather ends on # and a Redirect follows it for silence', () => {
    const xml = renderer.render('en-US', { say: [{ key: 'signin.enter_id' }], gather: { kind: 'digits', waitSeconds: null }, hangup: false }, 'abc');
    expect(xml).toMatch(/<Gather input="dtmf" action="https:\/\/pinline.example\/voice\/turn\?s=abc" method="POST" timeout="5" actionOnEmptyResult="false" finishOnKey="#">/);
    expect(xml).toContain('<Say voice="Polly.Joanna" language="en-US">Please enter your ID');
    expect(xml).toMatch(/<\/Gather><Redirect method="POST">https:\/\/pinline.example\/voice\/no-input\?s=abc<\/Redirect><\/Response>$/);
  });

  it('when the dialog shows a menu, then the Gather takes one key and no finish key', () => {
    const xml = renderer.render('en-US', { say: [{ key: 'menu.main' }], gather: { kind: 'menu', waitSeconds: null }, hangup: false }, 'abc');
    expect(xml).toContain('numDigits="1" finishOnKey=""');
  });

  it('when the signed-in caller has a response wait, then the Gather waits that long, and the same step for another wait is its own document', () => {
    const step = (waitSeconds: number | null) => ({ say: [{ key: 'menu.main' as const }], gather: { kind: 'menu' as const, waitSeconds }, hangup: false });
    expect(renderer.render('en-US', step(12), 'abc')).toContain('timeout="12"');
    expect(renderer.render('en-US', step(30), 'abc')).toContain('timeout="30"');
    expect(renderer.render('en-US', step(null), 'abc')).toContain('timeout="5"');
    expect(renderer.render('en-US', step(12), 'abc')).toContain('timeout="12"');
  });

  it('when the dialog ends, then the prompts are followed by a Hangup', () => {
    const xml = renderer.render('en-US', { say: [{ key: 'goodbye' }], gather: null, hangup: true }, null);
    expect(xml).toMatch(/<Say[^>]*>Goodbye.<\/Say><Hangup\/><\/Response>$/);
  });

  it('when a prompt has a placeholder, then its value is spoken', () => {
    const xml = renderer.render('es-US', { say: [{ key: 'pin.status', params: { days: 12 } }], gather: null, hangup: true }, null);
    expect(xml).toContain('12');
    expect(xml).toContain('language="es-US"');
    expect(xml).not.toContain('{days}');
  });

  it('when something went wrong, then the answer is [error.unavailable] and a hang-up', () => {
    expect(renderer.unavailable('en-US')).toContain(speech.catalog.render('en-US', 'error.unavailable'));
  });

  it('when the same step comes again with another sealed state, then only the state in its URLs differs', () => {
    const step = { say: [{ key: 'menu.main' as const }], gather: { kind: 'menu' as const, waitSeconds: null }, hangup: false };
    const first = renderer.render('en-US', step, 'first-state');
    const second = renderer.render('en-US', step, 'second-state');
    expect(first.match(/first-state/g)).toHaveLength(2);
    expect(second).toBe(first.replaceAll('first-state', 'second-state'));
  });
});

describe('what Twilio submits for a Gather', () => {
  it.each([
    ['1001#', null, '#', '1001'],
    ['1001', null, '#', '1001'],
    ['#', null, '#', null],
    ['', null, '#', null],
    ['12#34', null, '#', '12'],
    ['*', null, '#', '*'],
    ['1', 1, '', '1'],
    ['#', 1, '', '#'],
    ['29', 1, '', '2'],
  ])('when the caller types %j (numDigits %s, finishOnKey %j), then Twilio sends %j', (typed, numDigits, finishOnKey, expected) => {
    expect(gatherDigits(typed, numDigits, finishOnKey)).toBe(expected);
  });
});
