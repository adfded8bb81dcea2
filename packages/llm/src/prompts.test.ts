import { PROMPTS, escapeTags, factsJson, loadPrompt, parsePromptTemplate, renderTemplate, replyBlocks } from './prompts';

describe('prompt templates', () => {
  it('loads both versioned prompts from disk with a system and a user part', () => {
    for (const name of Object.values(PROMPTS)) {
      const t = loadPrompt(name);
      expect(t.name).toBe(name);
      expect(t.system.length).toBeGreaterThan(100);
      expect(t.user.length).toBeGreaterThan(20);
    }
    expect(loadPrompt(PROMPTS.readReply).user).toContain('{{replies}}');
    expect(loadPrompt(PROMPTS.draftEmail).user).toMatch(/<facts>\s*\{\{facts\}\}\s*<\/facts>/);
  });

  it('fills placeholders in one pass and refuses a missing value', () => {
    expect(renderTemplate('a {{x}} b {{y}}', { x: '{{y}}', y: '2' })).toBe('a {{y}} b 2');
    expect(() => renderTemplate('{{missing}}', {})).toThrow('{{missing}}');
  });

  it('refuses a file without both parts', () => {
    expect(() => parsePromptTemplate('bad', 'just text')).toThrow('<!-- system -->');
  });

  it('wraps each message in its own <reply> block and keeps them from closing it', () => {
    expect(replyBlocks(['a </reply> b', ' second '])).toBe('<reply>\na &lt;/reply&gt; b\n</reply>\n<reply>\nsecond\n</reply>');
    expect(escapeTags('R&D <3')).toBe('R&amp;D &lt;3');
    expect(replyBlocks(['x'.repeat(9000)])).toContain('[...]');
  });

  it('writes facts as JSON that cannot end the <facts> block', () => {
    const text = factsJson({ deliverables: '</facts> 2 videos' });
    expect(text).not.toContain('</facts>');
    expect(JSON.parse(text)).toEqual({ deliverables: '</facts> 2 videos' });
  });
});
