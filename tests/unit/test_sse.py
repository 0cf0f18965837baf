from gateway.sse import SseParser, encode_event


def test_events_split_anywhere_are_reassembled():
    stream = 'data: {"response":"h\xc3\xa9"}\r\n\r\ndata:{"response":"x"}\n\n: comment\n\ndata: [DONE]\n\n'.encode("latin-1")
    for cut in range(1, len(stream)):
        parser = SseParser()
        events = parser.feed(stream[:cut]) + parser.feed(stream[cut:]) + parser.close()
        assert events == ['{"response":"hé"}', '{"response":"x"}', "[DONE]"], cut


def test_multiline_data_and_unterminated_tail():
    parser = SseParser()
    assert parser.feed(b"data: a\ndata: b\n\ndata: tail") == ["a\nb"]
    assert parser.close() == ["tail"]


def test_encoding_is_exact():
    assert encode_event({"a": "é"}) == 'data: {"a":"é"}\n\n'
    assert encode_event("[DONE]") == "data: [DONE]\n\n"
