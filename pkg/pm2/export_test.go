package pm2

// SkewConfigJS is the helper ecosystem, for the tests of package pm2_test.
var SkewConfigJS = skewConfigJS
