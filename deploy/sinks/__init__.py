"""Local stand-ins for the outside services Tawny hands messages to: a mail server
(``smtp``), a web push service (``webpush``), FCM (``fcm``) and GOV.UK Notify (``notify``).

They accept what the platform sends, keep it in memory and let people and tests read it back;
they deliver nothing onwards. The dev stack starts them as processes; tests run them in-process.
Each can be told to misbehave through one fault book (``running.FaultBook``; the HTTP sinks'
faults are ``http.HttpFault``) and runs as a process through ``running.run_sink``.
"""
