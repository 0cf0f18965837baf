"""Short texts (menu items, buttons, headings) with the source language left to the gateway, as
Immersive Translate and the DeepL libraries send them: translated, never echoed back as if they were
already in the target language (issue 31). The emulator's m2m100 answers `[src->tgt] text`, so the
source the gateway chose is visible in the answer."""

from __future__ import annotations

import deepl
import httpx
import pytest

# (text, its language): German, Spanish and French among them as the issue found them echoed.
SHORT = [
    ("Einstellungen", "de"), ("Passwort vergessen?", "de"), ("Konto erstellen", "de"), ("Abmelden", "de"),
    ("Gracias", "es"), ("Iniciar sesión", "es"), ("Buscar", "es"),
    ("Mot de passe oublié ?", "fr"), ("Se connecter", "fr"), ("Paramètres", "fr"),
    ("Impostazioni", "it"), ("Inloggen", "nl"), ("Configurações", "pt"), ("Ustawienia", "pl"),
]


def test_short_texts_through_deeplx_are_translated_not_echoed(gateway):
    response = httpx.post(f"{gateway.url}/translate", headers={"Authorization": f"Bearer {gateway.api_key}"}, timeout=60,
                          json={"text_list": [text for text, _ in SHORT], "source_lang": "auto", "target_lang": "EN"})
    assert response.status_code == 200, response.text
    for (text, lang), out in zip(SHORT, response.json()["translations"]):
        assert out["text"] == f"[{lang}->en] {text}", (text, out)
        assert out["detected_source_lang"] == lang.upper()


@pytest.mark.parametrize("text, lang", SHORT[:7])
def test_short_texts_through_deeplx_one_at_a_time(gateway, text, lang):
    response = httpx.post(f"{gateway.url}/translate", headers={"Authorization": f"Bearer {gateway.api_key}"}, timeout=30,
                          json={"text": text, "target_lang": "EN"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == f"[{lang}->en] {text}"


def test_short_texts_through_the_deepl_library_are_translated_not_echoed(gateway):
    translator = deepl.Translator(gateway.api_key, server_url=gateway.url)
    results = translator.translate_text([text for text, _ in SHORT], target_lang="EN-US")
    for (text, lang), result in zip(SHORT, results):
        assert result.text == f"[{lang}->en] {text}", (text, result.text)
        assert result.detected_source_lang == lang.upper()
