<?php
// https_app.php - an unmodified-style PHP program that asks an
// OpenAI-compatible chat API one question with PHP streams
// (file_get_contents and a stream context, no curl), trusting what the
// system trusts (OpenSSL's default paths), the key from OPENAI_API_KEY.
//
// usage: php https_app.php URL MODEL
// Prints "<status> <model of the answer>" (or "<status> error <message>");
// exits 0 only for a 200 whose JSON body has choices, 1 otherwise, 2 if the
// request failed before any answer.
[, $url, $model] = $argv;
$body = json_encode(["model" => $model, "temperature" => 0,
    "messages" => [["role" => "user", "content" => "hello from php"]]]);
$ctx = stream_context_create(["http" => [
    "method" => "POST",
    "header" => "Content-Type: application/json\r\nAuthorization: Bearer " . getenv("OPENAI_API_KEY"),
    "content" => $body,
    "ignore_errors" => true,
    "timeout" => 20,
    "protocol_version" => 1.1,
]]);
$data = @file_get_contents($url, false, $ctx);
if ($data === false || !isset($http_response_header)) {
    $e = error_get_last();
    echo "0 error ", $e ? $e["message"] : "no answer", "\n";
    exit(2);
}
$status = 0;
foreach ($http_response_header as $h) { // the last status line counts
    if (preg_match('#^HTTP/\S+\s+(\d{3})#', $h, $m)) {
        $status = (int)$m[1];
    }
}
$d = json_decode($data, true);
if (!is_array($d)) {
    echo "$status error non-json ", substr($data, 0, 80), "\n";
    exit(1);
}
if (isset($d["error"])) {
    echo "$status error ", $d["error"]["message"] ?? "", "\n";
    exit(1);
}
echo "$status ", $d["model"] ?? "", "\n";
exit($status == 200 && !empty($d["choices"]) ? 0 : 1);
