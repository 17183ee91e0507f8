"""The polar test mission's own code: its analyzer's file format, its rules, its simulator."""
