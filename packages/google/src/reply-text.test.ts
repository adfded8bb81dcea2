import { extractReplyText } from './reply-text';

const quote = '> Our offer is $1,000.00 for two videos.\n> Best, Brand';

describe('extractReplyText: quote attributions in each supported language', () => {
  const cases: [string, string][] = [
    ['English', 'On Tue, Nov 4, 2025 at 10:00 AM Brand <deals@brand.test> wrote:'],
    ['French', 'Le mar. 4 nov. 2025 à 10:00, Brand <deals@brand.test> a écrit :'],
    ['Spanish', 'El mar, 4 nov 2025 a las 10:00, Brand (<deals@brand.test>) escribió:'],
    ['German', 'Am Di., 4. Nov. 2025 um 10:00 Uhr schrieb Brand <deals@brand.test>:'],
    ['Italian', 'Il giorno mar 4 nov 2025 alle ore 10:00 Brand <deals@brand.test> ha scritto:'],
    ['Dutch', 'Op di 4 nov 2025 om 10:00 schreef Brand <deals@brand.test>:'],
    ['Portuguese', 'Em ter., 4 de nov. de 2025 às 10:00, Brand <deals@brand.test> escreveu:'],
    ['Scandinavian', 'Den tis 4 nov. 2025 kl 10:00 skrev Brand <deals@brand.test>:'],
  ];
  it.each(cases)('%s, top-posted', (_language, attribution) => {
    expect(extractReplyText(`My rate is $1,500.00.\n\n${attribution}\n${quote}\n`)).toBe('My rate is $1,500.00.');
  });
  it.each(cases)('%s, bottom-posted: the answer below the quote, without our old offer', (_language, attribution) => {
    expect(extractReplyText(`${attribution}\n${quote}\n\nMy rate is $1,500.00.\n`)).toBe('My rate is $1,500.00.');
  });

  it('an attribution wrapped over two lines by the sender\'s client', () => {
    expect(extractReplyText('Deal.\n\nOn Tue, Nov 4, 2025 at 10:00 AM Brand Partnerships Team\n<deals@brand.test> wrote:\n> offer $1.00')).toBe('Deal.');
  });

  it('history that is not quoted below an attribution is still cut', () => {
    expect(extractReplyText('Deal.\n\nOn Tue, Nov 4, 2025 Brand wrote:\nOur offer is $1,000.00')).toBe('Deal.');
  });
});
