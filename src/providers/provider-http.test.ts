import { describe, expect, it } from 'vitest';
import { endpoint, parseRetryAfter, scrub } from './provider-http.js';

describe('scrub', () => {
  const secret = 'proxy-live-9f8e7d6c5b4a3f2e1d0c';
  it('masks the whole secret and any 6+ character piece of it', () => {
    expect(scrub(`bad key ${secret}!`, secret)).toBe('bad key [credential]!');
    expect(scrub('key proxy-live-9f8e*** rejected', secret)).not.toContain('9f8e');
    expect(scrub('ends …3f2e1d0c here', secret)).toBe('ends …[credential] here');
    expect(scrub('Incorrect API key provided: sk-abc***xyz', 'sk-abcdefghijklmnopqrstuvwxyz')).toBe('Incorrect API key provided: [credential]***xyz');
  });
  it('keeps text that shares less than 6 characters with the secret', () => {
    expect(scrub('rate limit reached for proxy', secret)).toBe('rate limit reached for proxy');
  });
  it('masks key-shaped tokens even when they are not the secret', () => {
    expect(scrub('use sk-proj-AAAABBBB instead', secret)).toBe('use [key] instead');
  });
});

describe('endpoint', () => {
  it('keeps a proxy prefix and does not repeat the API version', () => {
    expect(endpoint('https://api.openai.com', '/v1/organization/costs').href).toBe('https://api.openai.com/v1/organization/costs');
    expect(endpoint('https://api.openai.com/v1', '/v1/organization/costs').href).toBe('https://api.openai.com/v1/organization/costs');
    expect(endpoint('https://proxy.example/openai/', '/v1/organization/costs').href).toBe('https://proxy.example/openai/v1/organization/costs');
    expect(endpoint('https://api.deepseek.com', '/user/balance').href).toBe('https://api.deepseek.com/user/balance');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
  });
});
