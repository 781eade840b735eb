"""Example problems; from the repository root run ``verify assumptions examples.NAME:FACTORY``."""
