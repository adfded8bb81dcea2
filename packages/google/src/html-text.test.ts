import { decodeEntities, htmlToText } from './html-text';

describe('decodeEntities', () => {
  it.each([
    ['&amp;&lt;&gt;&quot;&apos;&nbsp;', '&<>"\' '],
    ['&AMP; &Lt;', '& <'],
    ['&unknown; &amp', '&unknown; &amp'],
    ['&amp;lt;', '&lt;'],
    ['&#65;&#x41;&#X42;', 'AAB'],
    ['&#x00000041;', 'A'],
    ['&#x000000041;', '\uFFFD'],
    ['&#0;', '\uFFFD'],
    ['&#1;', '\u0001'],
    ['&#x110000;', '\uFFFD'],
    ['&#x10FFFF;', String.fromCodePoint(0x10ffff)],
    ['&#xD800;', '\uFFFD'],
    ['&#xDFFF;', '\uFFFD'],
    ['&#xD7FF;', '\uD7FF'],
    ['&#xE000;', '\uE000'],
    ['&#x;', '&#x;'],
  ])('%j → %j', (html, text) => expect(decodeEntities(html)).toBe(text));
});

describe('htmlToText', () => {
  it.each([
    ['line breaks after blocks and at <br>', '<p>a</p><div>b</div>c<br>d<br/>e<li>f</li><h3>g</h3><tr>h</tr>', 'a\nb\nc\nd\nef\ng\nh\n'],
    ['no break for an opening block or an inline tag', '<p>a<b>b</b><span>c</span>', 'abc'],
    ['a tag with spaces and upper case', 'a< / P >b<BR>c', 'a\nb\nc'],
    ['a stray "<", "<>" or a tag without a name', 'a < b<<p>c<>d<1>e', 'a < b<cde'],
    ['skipped elements up to their own end tag only', '<script>a</p>b</script>c<STYLE>d</style>e<title>t</title>f', 'cef'],
    ['a self-closing script skips nothing', '<script/>after', 'after'],
    ['a stray end of quote', '</blockquote>a<blockquote>b</blockquote>c', 'ac'],
    ['breaks inside a quote are dropped with it', '<blockquote>x<br>y</p></blockquote>z', 'z'],
    ['Gmail quote block, with divs inside, up to its end', '<p>Yes</p><div class="GMAIL_QUOTE">On x wrote:<div>old<br></div>more</div>after</div>', 'Yes\nafter\n'],
    ['a ">" in text is text', 'x ><br>y > z', 'x >\ny > z'],
    ['only a div opens a Gmail quote block', '<span class="gmail_quote">a</span><p class="gmail_quote">b</p>c', 'ab\nc'],
    ['a plain div is not a quote', '<div class="note">keep</div>', 'keep\n'],
    ['entities decoded once, after the tags are gone', '<p>&lt;b&gt; &amp;amp;</p>', '<b> &amp;\n'],
  ])('%s', (_what, html, text) => expect(htmlToText(html)).toBe(text));
});
