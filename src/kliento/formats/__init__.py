"""Kliento's date formats per language (settings.FORMAT_MODULE_PATH), over Django's own.

Templates show dates with the named formats, `|date:"DATE_FORMAT"`, `"DATETIME_FORMAT"` and
`"MONTH_DAY_FORMAT"`, never with a pattern of month letters: English abbreviates the month
("20 Jan 2024"), Russian writes it in the genitive, lowercase ("20 января 2024"), which no
single pattern gives in both ("M" is "Янв" in Russian, "E" is "January" in English).
A date and time is always the date, a comma and the time (kliento_ui relies on it).
Everything else (short formats, input formats, separators) is Django's for the language.
"""
