"""English: "20 Jan 2024", "20 Jan 2024, 14:05", "20 Jan"."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j M"
