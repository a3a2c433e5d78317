"""make_intents.py - writes intents.jsonl, the labelled examples shipped
for `llmroutectl train` (written for llmroute; regenerate with
/usr/bin/python3 tests/data/make_intents.py > tests/data/intents.jsonl).

Six intents, each from several phrasings crossed with subjects.  The held
out examples ("split": "test") use a subject or a phrasing (the last two of
each intent's eight) that no training example uses, so the accuracy
printed by `train` measures generalisation to new wording and subjects,
not recall of examples seen."""
import json

SUBJ = {
    "define": ["entropy", "photosynthesis", "inflation", "a monad", "latency", "quorum",
               "opportunity cost", "a hash table", "osmosis", "a derivative", "GDP", "a firewall"],
    "compliance": ["storing customer emails", "keeping server logs for two years", "sharing health records",
                   "transferring data to the US", "recording support calls", "using personal phones for work",
                   "tracking employees' location", "selling anonymised data", "deleting backups",
                   "vendor access to payroll", "cookies on our landing page", "scanning ID cards"],
    "code": ["parse a CSV file", "reverse a linked list", "debounce a function", "read a file line by line",
             "merge two sorted arrays", "validate an email address", "retry an HTTP call",
             "hash a password", "sort a map by value", "stream a large JSON file", "rate limit an API",
             "convert a timestamp to UTC"],
    "summarize": ["this meeting transcript", "the quarterly report", "the following article",
                  "these customer reviews", "this email thread", "the incident postmortem",
                  "the attached contract", "this research paper", "the release notes",
                  "this support ticket history", "the board minutes", "this long chat log"],
    "translate": ["good morning to Spanish", "this paragraph into French", "the menu into German",
                  "our error messages to Japanese", "this contract clause into Italian",
                  "the welcome email to Portuguese", "these subtitles into Korean", "the slogan into Dutch",
                  "this poem into Polish", "the FAQ into Swedish", "the invoice text into Turkish",
                  "the safety notice into Arabic"],
    "chitchat": ["your weekend", "the weather today", "your favourite movie", "how your day is going",
                 "whether you like music", "a funny joke", "what you had for lunch", "your hobbies",
                 "coffee or tea", "the best pizza topping", "cats versus dogs", "your plans for tonight"],
}
TEMPLATES = {
    "define": ["Define {s}.", "What is {s}?", "What does {s} mean?", "Give me a short definition of {s}.",
               "Explain the meaning of {s} in one sentence.", "define {s} please",
               "In plain words, what is {s}?", "What's the definition of {s}?"],
    "compliance": ["Is {s} allowed under GDPR?", "Does our policy permit {s}?",
                   "Are we compliant if we are {s}?", "What are the legal risks of {s}?",
                   "Check {s} against our data retention policy.", "Would an auditor flag {s}?",
                   "Is {s} a HIPAA violation?", "Do we need consent for {s}?"],
    "code": ["Write a Python function to {s}.", "How do I {s} in JavaScript?", "Show me code to {s}.",
             "Give me a Go snippet that can {s}.", "Fix my function that tries to {s}.",
             "What's the idiomatic way to {s} in Rust?", "Implement a helper to {s} with tests.",
             "Refactor this code that should {s}."],
    "summarize": ["Summarize {s}.", "Give me a TL;DR of {s}.", "Condense {s} into three bullet points.",
                  "What are the key points of {s}?", "Write a short summary of {s}.",
                  "Boil down {s} to one paragraph.", "Extract the main takeaways from {s}.",
                  "Can you recap {s} for an executive?"],
    "translate": ["Translate {s}.", "Please translate {s}.", "How would you say {s}?",
                  "Render {s}, keeping the tone.", "Can you translate {s} for me?",
                  "I need {s}, translated accurately.", "Give me a translation of {s}.",
                  "Convert {s}, word for word."],
    "chitchat": ["Tell me about {s}.", "Let's chat about {s}!", "What do you think about {s}?",
                 "Just curious: {s}?", "Hey! Any thoughts on {s}?", "I was wondering about {s}.",
                 "Random question: {s}?", "Talk to me about {s}, I'm bored."],
}

for intent, subjects in SUBJ.items():
    for i, s in enumerate(subjects):
        for j, t in enumerate(TEMPLATES[intent]):
            row = {"text": t.format(s=s), "intent": intent}
            if i >= 9 or j >= 6:
                row["split"] = "test"
            print(json.dumps(row))
