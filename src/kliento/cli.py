import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kliento.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kliento", *sys.argv[2:]])
