"""Word lists the prompt template families fill in (``|``-separated to stay compact)."""

from __future__ import annotations


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


TOPICS = _split(
    "photosynthesis | the French Revolution | black holes | inflation | compound interest | "
    "the immune system | machine learning | climate change | the stock market | vaccines | "
    "the Roman Empire | quantum computing | blockchain | the water cycle | plate tectonics | "
    "supply and demand | the Renaissance | neural networks | jazz history | sleep hygiene | "
    "intermittent fasting | the Cold War | electric cars | solar panels | mortgages | the Big"
    " Bang | CRISPR | the printing press | minimalism | stoicism | impressionism | the Silk "
    "Road | coral reefs | antibiotics | the theory of relativity | game theory | cryptography"
    " | the placebo effect | urban gardening | sourdough baking | marathon training | index "
    "funds | remote work | the gig economy | volcanoes | honeybees | the Ottoman Empire | "
    "Shakespeare's sonnets | the periodic table | DNA replication | monetary policy | tariffs"
    " | dark matter | the human microbiome | meditation | bird migration | the Industrial "
    "Revolution"
)
CITIES = _split(
    "Lisbon | Kyoto | Mexico City | Istanbul | Vancouver | Cape Town | Prague | Seoul | "
    "Buenos Aires | Edinburgh | Marrakech | Hanoi | Copenhagen | Lima | Sydney | Montreal | "
    "Barcelona | Singapore | Vienna | Chicago | Dublin | Oaxaca | Tbilisi | Porto"
)
THINGS = _split(
    "a birthday party | a job interview | a wedding toast | a team offsite | a garden | a "
    "small bakery | a podcast | a book club | a hiking trip | a cover letter | a product "
    "launch | a fundraising email | a resignation letter | a newsletter | a conference talk |"
    " a landlord complaint | a thank-you note | a YouTube channel"
)
FOODS = _split(
    "lentil soup | pad thai | banana bread | shakshuka | ramen | paella | chili | a vegan "
    "lasagna | fish tacos | a chocolate cake | risotto | dumplings | granola"
)
LANGS = _split("Python | JavaScript | TypeScript | Go | Rust | Java | C# | SQL | Bash | Kotlin")
HUMAN_LANGS = _split("Spanish | German | French | Japanese | Portuguese | Italian | Korean | Dutch")
CODE_TASKS = _split(
    "parses a CSV file and returns the rows as dictionaries | removes duplicate entries from "
    "a list while keeping the order | validates an email address | retries an HTTP request "
    "with exponential backoff | computes the moving average of a time series | merges two "
    "sorted arrays | converts a Roman numeral to an integer | finds the longest palindromic "
    "substring | reads a config file and merges it with environment variables | paginates "
    "results from a REST API | rate-limits calls to a function | flattens a nested JSON "
    "object | implements an LRU cache | checks whether a binary tree is balanced | groups log"
    " lines by request id | serializes a dataclass to JSON | computes the shortest path in a "
    "weighted graph | parses ISO 8601 dates with time zones | streams a large file in chunks "
    "and computes its checksum | debounces user input events"
)
ERRORS = _split(
    "KeyError | TypeError: 'NoneType' object is not subscriptable | IndexError: list index "
    "out of range | a segmentation fault | a race condition | a deadlock | ValueError | an "
    "off-by-one error | undefined is not a function | a null pointer exception | a memory "
    "leak | a timeout"
)
TOOLS = _split(
    "web_search | read_file | run_shell | edit_file | browser | calculator | sql_query | fetch_url"
)
NAMES = _split(
    "Ava | Liam | Noah | Mia | Zara | Omar | Priya | Chen | Sofia | Mateo | Yuki | Amara | "
    "Lena | Ravi | Elena | Kofi | Ines | Hugo | Nadia | Tariq | Maya | Jonas"
)
ITEMS = _split(
    "apples | marbles | books | stickers | cupcakes | pencils | tickets | coins | eggs | "
    "boxes | shirts | plants | cookies | cards | bottles | toy cars | notebooks"
)
SUBJECTS = _split(
    "physics | chemistry | biology | economics | history | law | medicine | philosophy | "
    "statistics | linguistics | computer science | geography | psychology"
)
DOC_NOUNS = _split(
    "the invoice | the shipment | the customer | the contract | the refund | the order | the "
    "subscription | the claim | the account | the delivery | the warranty | the ticket"
)
DOC_VERBS = _split(
    "was delayed by | was charged twice for | requested a change to | could not find | asked "
    "about the status of | reported a problem with | wants to cancel | disputed | received a "
    "damaged item in | needs an update on | was not notified about"
)
DOC_TAILS = _split(
    "and is asking for a callback. | and mentions a deadline next week. | and is frustrated. "
    "| and attached a screenshot. | and refers to an earlier conversation. | and wants a "
    "refund. | and asks to speak to a manager. | and thanks the team for the quick help."
)
SENSITIVE = _split(
    "how to pick a lock | how to get into someone's email account | how to make a fake ID | "
    "how to bypass a paywall | how to track a phone without the owner knowing | how to cheat "
    "on an online exam | how to disable a smoke detector | how to shoplift unnoticed | how to"
    " write a phishing email | how to avoid paying taxes on cash income"
)
# (country, population weight, UTC offset in hours)
COUNTRIES = (
    ("US", 0.36, -6.0),
    ("GB", 0.07, 0.0),
    ("DE", 0.06, 1.0),
    ("IN", 0.08, 5.5),
    ("FR", 0.04, 1.0),
    ("JP", 0.04, 9.0),
    ("BR", 0.04, -3.0),
    ("CA", 0.05, -5.0),
    ("AU", 0.03, 10.0),
    ("KR", 0.03, 9.0),
    ("SG", 0.02, 8.0),
    ("NL", 0.03, 1.0),
    ("ES", 0.03, 1.0),
    ("MX", 0.03, -6.0),
    ("PL", 0.03, 1.0),
    ("IE", 0.02, 0.0),
    ("SE", 0.02, 1.0),
    ("IL", 0.02, 2.0),
)
