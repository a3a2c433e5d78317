# https_app.rb - an unmodified-style Ruby program that asks an
# OpenAI-compatible chat API one question with net/http, trusting what the
# system trusts (OpenSSL's default paths), the key from OPENAI_API_KEY.
#
# usage: ruby https_app.rb URL MODEL
# Prints "<status> <model of the answer>" (or "<status> error <message>");
# exits 0 only for a 200 whose JSON body has choices, 1 otherwise, 2 if the
# request failed before any answer.
require "json"
require "net/http"
require "uri"

url, model = ARGV
u = URI(url)
body = JSON.generate({model: model, temperature: 0,
                      messages: [{role: "user", content: "hello from ruby"}]})
begin
  http = Net::HTTP.new(u.host, u.port)
  http.use_ssl = (u.scheme == "https")
  http.open_timeout = 20
  http.read_timeout = 20
  req = Net::HTTP::Post.new(u.request_uri, "Content-Type" => "application/json",
                                           "Authorization" => "Bearer #{ENV['OPENAI_API_KEY']}")
  req.body = body
  res = http.request(req)
rescue StandardError => e
  puts "0 error #{e.class}: #{e.message}"
  exit 2
end
status = res.code.to_i
begin
  d = JSON.parse(res.body)
rescue JSON::ParserError
  puts "#{status} error non-json #{res.body.to_s[0, 80]}"
  exit 1
end
if d.is_a?(Hash) && d["error"]
  puts "#{status} error #{d['error']['message']}"
  exit 1
end
puts "#{status} #{d['model']}"
exit(status == 200 && d["choices"] ? 0 : 1)
