"""Request body parsers every service shares."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that JSON nested past Python's recursion limit is a 400, not a 500.

    The stdlib parser raises RecursionError (not the ValueError DRF turns into a ParseError) for a few
    kilobytes of ``[[[[...]]]]``.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
