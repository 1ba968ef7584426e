"""Other clients' APIs at the gateway edge, translated to and from the gateway's chat request.

    anthropic_in / anthropic_stream   POST /v1/messages (+ /count_tokens): Anthropic's Messages API
    responses / responses_stream      POST /v1/responses: OpenAI's Responses API
    store                             stored conversations for `previous_response_id`
    handlers                          the FastPath handlers, and each path's error shape
"""
