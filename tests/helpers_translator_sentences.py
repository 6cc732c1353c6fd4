"""English sentences for the ONNX and in-browser translator parity tests.

``INVENTED`` are our own sentences (short and long, clitics, numbers, names, punctuation,
words the vocabulary lacks); :func:`corpus_sources` adds sources of the corpus's *test* split,
read at test time and never written anywhere. ``HOSTILE`` are inputs a reader might paste.
"""
from __future__ import annotations

INVENTED = [
    "I like red cars.", "Go!", "Hello.", "Thank you very much.", "Where is the station?",
    "She is reading a book.", "We don't know what he wants.", "I can't swim.", "Tom's dog is barking.",
    "They're going to Paris tomorrow.", "It's 3.5 kilometres from here.", "The meeting starts at 12:45.",
    "He paid 1,000 dollars for that old guitar.", "Do you speak French?", "My parents' house is small.",
    "Please close the window, it's cold.", "I have never seen such a beautiful sunset.",
    "Could you help me carry these heavy boxes upstairs?", "The children are playing in the garden.",
    "Why didn't you call me yesterday?", "I think that it will rain this afternoon.",
    "Mary and John got married last summer.", "Is this seat taken?", "I'm sorry, I didn't mean to hurt you.",
    "He works at the hospital as a nurse.", "My brother lives in a small village near the sea.",
    "What time is it?", "I forgot my umbrella at the restaurant.", "You should see a doctor.",
    "This is the best pizza I have ever eaten.", "The cat is sleeping on the sofa.",
    "We need more time to finish the project.", "Can I borrow your pen?", "She sings very well.",
    "I'll be back in ten minutes.", "Let's go to the beach!", "He doesn't like coffee.",
    "The train was late again this morning.", "Our teacher gave us a lot of homework.",
    "I want to learn how to play the piano.", "Don't forget to lock the door.",
    "There are three apples on the table.", "Have you ever been to Canada?",
    "I usually get up at seven o'clock.", "The weather is nice today, isn't it?",
    "He said that he would come, but he never did.", "Who wrote this letter?",
    "I lost my keys somewhere in the park.", "The shop closes at six.", "She bought a new dress for the party.",
    "Tom is taller than his father.", "It's too expensive for me.", "How much does this cost?",
    "We watched a film last night.", "I'm hungry.", "Are you tired?", "Open the door.",
    "The water is too cold to swim in.", "I don't understand what you are saying.",
    "My grandmother is ninety years old.", "They live on the fifth floor.", "He is afraid of dogs.",
    "Everyone was laughing at the joke.", "I have to go now.", "Where did you put the newspaper?",
    "The museum is closed on Mondays.", "She has two sisters and a brother.", "I was born in 1990.",
    "We'll meet again soon.", "He is the tallest boy in his class.", "I'd like a cup of tea, please.",
    "The flowers in the garden are beautiful.", "You're right.", "That's not my problem.",
    "Tom and Mary are good friends.", "Is there a bank near here?", "I can't find my glasses anywhere.",
    "The concert was cancelled because of the storm.", "I've been waiting for you for an hour.",
    "Please speak more slowly.", "He runs every morning before breakfast.", "I don't have any money.",
    "The quick brown fox jumps over the lazy dog.", "Zebras, giraffes and elephants live in Africa.",
    "Xylophones are unusual instruments.", "Quantum cryptography fascinates Bartholomew.",
    "Photosynthesis requires sunlight, water and carbon dioxide.", "The Zorblax sparkled wonderfully.",
    "I met Mr. Smith at the U.S. embassy.", "Wait... what did you say?", "\"Yes,\" she said.",
    "He asked: \"Why?\"", "It costs $20.", "About 50% of the students passed.", "Hmm...",
    "I love you!", "Stop!", "Run.", "Wow!", "Help!", "Fire!", "Who?", "Really?",
    "The book that you gave me last week is very interesting, but I haven't finished it yet.",
    "When I was a child, I used to spend every summer at my grandparents' farm in the country.",
    "If you had told me the truth from the beginning, none of this would have happened.",
    "Although it was raining heavily, the children insisted on going outside to play football with their friends.",
    "The old man who lives next door always waves at us when we walk past his house in the morning.",
    "I would rather stay at home and read a good book than go to a noisy party where I don't know anyone.",
    "She told me that she had already seen the film twice and that she didn't want to see it again.",
    "After dinner we sat by the fire, talked about the old days and listened to the rain on the roof.",
    ("Tom said that he would help us move the furniture on Saturday if we bought him lunch, "
     "but on Saturday morning he called to say that he was ill and could not come."),
    ("My sister, who has lived in Tokyo for ten years, speaks Japanese, English and French, and she is "
     "now learning Korean because she wants to work in Seoul."),
    ("Yesterday I went to the market, bought some vegetables, fish and bread, came home, cooked dinner for "
     "my whole family and then washed all the dishes by myself."),
    "i like red cars", "I LIKE RED CARS.", "  I   like\tred\ncars .  ", "I like red cars ...",
    "co-operation is well-known.", "He's 25 years old.", "Don't! Won't! Can't! Shan't!",
    "It's John's, not Mary's.", "I'm, you're, he's, we've, they'd.", "The year 2024 was a leap year.",
    "Call me at 555-1234.", "e.g. apples, oranges, etc.", "Visit www.example.com today.",
    "café naïve résumé", "Ça va?", "Straße", "北京 is a city.", "I ❤ Paris.", "😀 Hello 😀",
]

# Inputs a reader might paste: they must give the same tokens (or the same message) as Python.
HOSTILE = [
    "", " ", "\t\n", "\u200b", "\u00a0\u2003", "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "\"'&", "<!--", "&lt;b&gt;", "</style><b>bold</b>",
    "\u2028line\u2029sep", "a\u0000b\u0007c", "\u202eevil\u202c", "\ufeffBOM", "e\u0301te\u0301",
    "\ud83d\ude00", "lone \ud800 surrogate", "\udfff", "x" * 500, "word " * 1000, "… ... .. ....",
    "“curly” ‘quotes’ ‛odd‟", "non\u2011breaking hyphen", "3.14159 and 1,000,000 and 12:345",
    "U.S.A. e.g. p.m.", "can't CAN'T don't DON'T", "n't 't 'T", "__init__ foo_bar", "١٢٣ arabic digits",
    "Ⅻ roman", "x\u0300y", "a\u034fb", "\u00ad soft hyphen", "tab\there", "\x1c\x1d\x1e\x1f sep", "\x85 nel",
    "🇫🇷 flag", "👩‍👩‍👧 family", "ﬁ ligature", "Ǆ titlecase", "İstanbul", "ß", "I'm", "'tis", "rock 'n' roll",
]


def corpus_sources(n: int) -> list[str]:
    """``n`` English sources of the corpus test split (evenly spaced), or [] without the corpus."""
    from attention_course.data import CorpusError
    from attention_course.data.split import test_set
    try:
        examples = test_set("test", None) if _corpus_available() else []
    except CorpusError:
        return []
    if not examples:
        return []
    step = max(1, len(examples) // n)
    return [e.source for e in examples[::step][:n]]


def _corpus_available() -> bool:
    from attention_course.data import CorpusError, locate_corpus
    try:
        locate_corpus(download=False)
        return True
    except CorpusError:
        return False
