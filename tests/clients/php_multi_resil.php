<?php
// php_multi_resil.php - an ordinary curl_multi_exec loop, run unmodified
// under the shim: every model is one transfer of one batch.
// Usage: php php_multi_resil.php URL OUTPREFIX MODEL[:EXTRA-JSON]...
// Prints, in the order the transfers completed (curl_multi_info_read),
// "done MODEL RESULT HTTP_CODE ANSWER_MODEL MS" (MS: since the batch
// started); the body of transfer N goes to OUTPREFIX.N.body and its
// headers to OUTPREFIX.N.head.
$url = $argv[1];
$prefix = $argv[2];
$specs = array_slice($argv, 3);

$m = curl_multi_init();
$hs = [];
foreach ($specs as $i => $spec) {
    $parts = explode(":", $spec, 2);
    $body = ["model" => $parts[0], "messages" => [["role" => "user", "content" => "hello"]]];
    if (isset($parts[1])) $body = array_merge($body, json_decode($parts[1], true));
    $h = curl_init($url);
    $head = fopen("$prefix.$i.head", "w");
    curl_setopt($h, CURLOPT_POSTFIELDS, json_encode($body));
    curl_setopt($h, CURLOPT_HTTPHEADER, ["Authorization: Bearer sk-php-app", "Content-Type: application/json"]);
    curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($h, CURLOPT_WRITEHEADER, $head);
    curl_setopt($h, CURLOPT_TIMEOUT, 20);
    curl_multi_add_handle($m, $h);
    $hs[(int)$h] = [$h, $parts[0], $i, $head];
}
$t0 = microtime(true);
function reap($m, $hs, $t0) {
    while ($info = curl_multi_info_read($m)) {
        [$h, $model, $i, $head] = $hs[(int)$info["handle"]];
        $out = curl_multi_getcontent($h);
        file_put_contents($GLOBALS["prefix"] . ".$i.body", $out);
        fclose($head);
        $j = json_decode($out, true);
        printf("done %s %d %d %s %d\n", $model, $info["result"], curl_getinfo($h, CURLINFO_RESPONSE_CODE),
               is_array($j) && isset($j["model"]) ? $j["model"] : "-", (microtime(true) - $t0) * 1000);
        curl_multi_remove_handle($m, $h);
    }
}
do {
    $st = curl_multi_exec($m, $running);
    reap($m, $hs, $t0);
    if ($running) curl_multi_select($m, 1.0);
} while ($running && $st == CURLM_OK);
reap($m, $hs, $t0);
curl_multi_close($m);
