"""argparse's own words in Spanish: the agent reads `--help` and usage errors too.

argparse looks its messages up through a module-level `_` (gettext) at call time; we put a
small es-MX catalogue in front of it. Unknown strings fall back to argparse's English.
"""

from __future__ import annotations

import argparse

CATALOGUE = {
    "usage: ": "uso: ",
    "options": "opciones",
    "optional arguments": "opciones",
    "positional arguments": "argumentos",
    "show this help message and exit": "muestra esta ayuda y termina",
    "the following arguments are required: %s": "faltan argumentos obligatorios: %s",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "opción inválida: %(value)r (elija entre %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
    "expected one argument": "se esperaba un valor",
    "expected at least one argument": "se esperaba al menos un valor",
    "invalid %(type)s value: %(value)r": "valor inválido: %(value)r",
    "not allowed with argument %s": "no se permite junto con %s",
    "ambiguous option: %(option)s could match %(matches)s":
        "opción ambigua: %(option)s puede ser %(matches)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: error: %(message)s\n",
    "one of the arguments %s is required": "se requiere uno de los argumentos %s",
}


def install() -> None:
    english = argparse._  # type: ignore[attr-defined]
    if getattr(english, "_paylink_spanish", False):
        return

    def spanish(message: str) -> str:
        return CATALOGUE.get(message, english(message))

    spanish._paylink_spanish = True  # type: ignore[attr-defined]
    argparse._ = spanish  # type: ignore[attr-defined]
