import { normalizeOrigin } from 'src/api-keys/origin';

describe('normalizeOrigin', () => {
  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['HTTPS://App.Example.COM', 'https://app.example.com'],
    ['https://example.com:443', 'https://example.com'],
    ['https://example.com:8443', 'https://example.com:8443'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
  ])('accepts %s as %s', (input, expected) => {
    expect(normalizeOrigin(input)).toBe(expected);
  });

  it.each([
    [''],
    ['example.com'],
    ['https://example.com/'],
    ['https://example.com/path'],
    ['https://example.com?q=1'],
    ['https://example.com?'],
    ['https://example.com#x'],
    ['https://user:pw@example.com'],
    ['ftp://example.com'],
    ['javascript:alert(1)'],
    ['data:text/html,hi'],
    ['*'],
    ['https://exa mple.com'],
    [' https://example.com'],
    [`https://${'a'.repeat(300)}.com`],
    [42],
    [null],
  ])('rejects %p', (input) => {
    expect(normalizeOrigin(input)).toBeNull();
  });
});
