"""Local stand-ins for the outside services Tawny hands messages to (a mail server, for now).

They accept what the platform sends, keep it in memory and let people and tests read it back;
they deliver nothing onwards. The dev stack starts them as processes; tests run them in-process.
"""
