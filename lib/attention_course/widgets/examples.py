"""Example sentences, invented for the course (none is from the corpus): the widgets' default
text (in Jupyter and in the book's page) and their tests' sentences."""

EXAMPLES = [
    "I like red cars.",
    "The little girl is reading a book in the garden.",
    "We will go to the beach tomorrow if the weather is nice.",
    "My brother and I walked along the river for an hour before we found a small cafe "
    "that was still open.",
    "Yesterday Zorbulak visited his old teacher in Paris.",  # an unknown proper name
]

__all__ = ["EXAMPLES"]
