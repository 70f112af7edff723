"""Heketi's routes match ids with [A-Fa-f0-9]+; anything else is an unknown path (404)."""

from starlette.convertors import Convertor, register_url_convertor


class HexConvertor(Convertor[str]):
    regex = "[A-Fa-f0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hex", HexConvertor())
