"""IVR: versioned menu scripts, a pure interpreter, prompts (TTS) and speech input (ASR).

Modules
-------
- ``model``        frozen script model (``Script``, ``Node``, ``Prompt``...) with source marks
- ``loader``       YAML → model, keeping line/column of every part; ``schema`` + ``schema.json``
- ``validator``    meaning checks; ``check_file`` / ``check_text`` / ``load_valid``
- ``events`` / ``commands`` / ``interpreter``   the pure state machine (no I/O, no clock)
- ``lookup``       ``LookupPort``: the CRM questions the IVR asks (pbx implements it)
- ``phrases``      closed-set phrase matching; ``holidays`` the Polish calendar
- ``tts``          prompts rendered ahead of time (espeak-ng, sox) into a ``PromptCatalog``
- ``asr``          ``Recognizer`` interface; ``asr.vosk_engine``, ``asr.whisper_engine``,
                   ``asr.models`` (``SpeechModels`` per language), ``asr.endpoint`` (VAD)
- ``simulate`` / ``cli``   ``ckm ivr validate|simulate|render``, ``ckm models install|status``

How pbx/ drives a call
----------------------
At start-up (never during a call)::

    script = validator.load_valid("ivr/scripts/19115.yaml")         # or a published version
    catalog = tts.render_script(script, tts.PromptRenderer(settings.prompt_dir))
    speech = asr.models.SpeechModels.load(settings, script.languages)  # Vosk or Whisper per lang

Per call (one session object, state kept by the caller of ``step``)::

    state, cmds = interpreter.start(script, CallStarted(caller_number, at=now, call_id=chan_id))
    ... execute cmds in order ...
    state, cmds = interpreter.step(state, event)   # for every event below, until state.ended

The ``Script`` object is pinned in ``state``: keep serving a call with the state it has, and
start new calls with the newest script — a published change never affects calls in progress.
``state.snapshot()`` (script, version, node, language, vars) fits in channel variables; after a
controller restart ``interpreter.resume(script_of_that_version, snapshot, now)`` re-enters the
node.

Events (``ivr.events``; all frozen; ``at`` is the wall-clock time, ``turn`` answers a wait):

- ``CallStarted(caller_number, at, call_id, language=None)``
- ``Digit(digit, turn)``                      ARI ChannelDtmfReceived
- ``SpeechStarted(turn)``                     voice activity (endpointer) → barge-in
- ``SpeechResult(text, confidence, engine, turn)``   a recogniser's final ``Recognition``
- ``Timeout(turn)``                           the no-input / inter-digit timer ran out
- ``PromptFinished(turn)``                    ARI PlaybackFinished of the last Play of the turn
- ``LookupResult(kind, ok, found, values, turn)``    from ``lookup.answer[_async]``
- ``CallerHangup()``                          StasisEnd / ChannelHangupRequest

Commands (``ivr.commands``), executed in order; the ARI action each maps to:

- ``Play(prompts, barge_in, turn)`` → ``POST /channels/{id}/play`` with one media URI per
  prompt: ``catalog.media(ref)`` gives the file without extension (``<key>.wav`` 8 kHz and
  ``<key>.sln16`` 16 kHz exist; Asterisk picks the one matching the leg). Point
  ``CKM_IVR_PROMPT_DIR`` into Asterisk's sounds folder (``settings.sounds_dir / "ivr"``) and use
  ``settings.sound_uri("ivr/" + key)``; a recorded ``ref.file`` is played as is. Send
  ``PromptFinished(turn)`` when the last playback of the command finishes.
- ``StopPlayback(turn)`` → ``DELETE /playbacks/{id}`` (404 = already finished).
- ``Listen(phrases, language, timeout_s, turn)`` → stream the caller's audio to
  ``speech.recognizer(language)`` (one recogniser per call, reused: ``set_grammar(phrases)``
  for each Listen). Audio: externalMedia (``POST /channels/externalMedia``, format ``slin``
  = 8 kHz s16 LE mono, or ``slin16``), RTP payload bytes passed to ``accept_audio`` in 20 ms
  chunks, also while the prompt plays (barge-in). Send ``SpeechStarted`` when
  ``recognizer.speech_started`` (Whisper) or the first non-empty partial (Vosk) appears, and
  ``SpeechResult`` for each final ``Recognition``.
- ``StopListening(turn)`` → stop feeding that recogniser (keep the externalMedia channel).
- ``CollectDigits(max_digits, terminator, timeout_s, turn)`` → nothing to send to Asterisk:
  forward each DTMF as ``Digit``. Timer: ``timeout_s`` from the end of the prompt (at once
  when nothing plays), restarted on each digit; send ``Timeout(turn)`` when it runs out. One
  timer per turn: a Listen and a CollectDigits of the same turn share it.
- ``Lookup(kind, key, turn)`` → ``await lookup.answer_async(port, cmd)`` (bounded, 2 s) and
  step with the ``LookupResult``.
- ``Enqueue(queue, skills, priority, category, language)`` → hand the call to the ACD (cti);
  the IVR is done (``state.ended``).
- ``OfferCallback(queue, number, category, language)`` → register a callback request.
- ``Hangup(reason)`` → ``DELETE /channels/{id}``.
- ``RecordStep(...)`` → publish ``cmd.to_event(call_id, at)`` (``ground.events.IvrStep``) on the
  bus; ``engine`` and ``confidence`` record each recognition with the interaction.

Stale events (a turn that is not ``state.turn``) are ignored; events after the end are ignored;
an event before ``CallStarted`` raises ``IllegalEvent``. The interpreter never blocks: all
waiting is the executor's, driven by the commands above.
"""
