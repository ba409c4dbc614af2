"""Russian: the month in the genitive, lowercase, mid-date: "20 января 2024",
"20 января 2024, 14:05", "20 января"."""

DATE_FORMAT = "j E Y"
DATETIME_FORMAT = "j E Y, H:i"
MONTH_DAY_FORMAT = "j E"
