"""Pure business rules: money, statuses, the validity window. No I/O, no project imports."""
