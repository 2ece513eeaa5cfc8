"""Pure domain: types, enums, events, errors, clock. Imports nothing outside the standard library
and msgspec."""
