// Reads HCL on stdin, writes hclwrite.Format's result on stdout (exit 1 with the error on stderr).
const { format } = require("@cdktf/hcl-tools");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  format(input).then(
    (out) => process.stdout.write(out),
    (err) => {
      process.stderr.write(String(err) + "\n");
      process.exit(1);
    },
  );
});
