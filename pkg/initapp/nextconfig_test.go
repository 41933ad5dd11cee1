package initapp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	lineOutput = `output: "standalone",`
	lineAsset  = `assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,`
	lineBuild  = `generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,`
	three      = "  " + lineOutput + "\n  " + lineAsset + "\n  " + lineBuild + "\n"
)

// TestPlanConfig: the shapes init edits get the three lines at the top of
// the exported object and nothing else changes; the others are left to
// the user with the reason (and the diff, when init can tell it).
func TestPlanConfig(t *testing.T) {
	for _, c := range []struct {
		name, src string
		status    configStatus
		want      string // the new content; "" for none
		why       string // in the reason, when by hand
	}{{
		name:   "create-next-app TypeScript",
		src:    "import type { NextConfig } from \"next\";\n\nconst nextConfig: NextConfig = {\n  /* config options here */\n};\n\nexport default nextConfig;\n",
		status: configEdited,
		want:   "import type { NextConfig } from \"next\";\n\nconst nextConfig: NextConfig = {\n" + three + "  /* config options here */\n};\n\nexport default nextConfig;\n",
	}, {
		name:   "create-next-app ES module, empty object",
		src:    "/** @type {import('next').NextConfig} */\nconst nextConfig = {};\n\nexport default nextConfig;\n",
		status: configEdited,
		want:   "/** @type {import('next').NextConfig} */\nconst nextConfig = {\n" + three + "};\n\nexport default nextConfig;\n",
	}, {
		name:   "CommonJS object, single quotes kept",
		src:    "module.exports = {\n  reactStrictMode: true,\n  images: { domains: ['a.example'] },\n}\n",
		status: configEdited,
		want:   "module.exports = {\n  output: 'standalone',\n  " + lineAsset + "\n  " + lineBuild + "\n  reactStrictMode: true,\n  images: { domains: ['a.example'] },\n}\n",
	}, {
		name:   "export default literal with satisfies, tabs",
		src:    "import type { NextConfig } from \"next\";\n\nexport default {\n\treactStrictMode: true,\n} satisfies NextConfig;\n",
		status: configEdited,
		want:   "import type { NextConfig } from \"next\";\n\nexport default {\n\t" + lineOutput + "\n\t" + lineAsset + "\n\t" + lineBuild + "\n\treactStrictMode: true,\n} satisfies NextConfig;\n",
	}, {
		name:   "plugin call around an object literal",
		src:    "const withBundleAnalyzer = require(\"@next/bundle-analyzer\")({ enabled: process.env.ANALYZE === \"true\" })\n\nmodule.exports = withBundleAnalyzer({\n  reactStrictMode: true,\n})\n",
		status: configEdited,
		want:   "const withBundleAnalyzer = require(\"@next/bundle-analyzer\")({ enabled: process.env.ANALYZE === \"true\" })\n\nmodule.exports = withBundleAnalyzer({\n" + three + "  reactStrictMode: true,\n})\n",
	}, {
		name:   "plugins around a name, with an options object",
		src:    "const nextConfig = {\n  poweredByHeader: false,\n};\n\nexport default withSentryConfig(withNextIntl(nextConfig), { silent: true });\n",
		status: configEdited,
		want:   "const nextConfig = {\n" + three + "  poweredByHeader: false,\n};\n\nexport default withSentryConfig(withNextIntl(nextConfig), { silent: true });\n",
	}, {
		name:   "one line object",
		src:    "module.exports = { reactStrictMode: true };\n",
		status: configEdited,
		want:   "module.exports = { " + lineOutput + " " + lineAsset + " " + lineBuild + " reactStrictMode: true };\n",
	}, {
		name:   "braces in strings, comments, templates and regular expressions",
		src:    "const nextConfig = {\n  // a } here\n  env: { A: \"}\", B: `${\"}\"}{` },\n  webpack(config) {\n    config.module.rules.push({ test: /\\.svg}$/, use: [\"x\"] }); /* } */\n    return config\n  },\n};\nexport default nextConfig\n",
		status: configEdited,
		want:   "const nextConfig = {\n" + three + "  // a } here\n  env: { A: \"}\", B: `${\"}\"}{` },\n  webpack(config) {\n    config.module.rules.push({ test: /\\.svg}$/, use: [\"x\"] }); /* } */\n    return config\n  },\n};\nexport default nextConfig\n",
	}, {
		name:   "some lines there: only the missing ones",
		src:    "const nextConfig = {\n  output: 'standalone',\n};\nmodule.exports = nextConfig;\n",
		status: configEdited,
		want:   "const nextConfig = {\n  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,\n  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,\n  output: 'standalone',\n};\nmodule.exports = nextConfig;\n",
	}, {
		name:   "all three, other quotes and spacing",
		src:    "export default {\n  output:'standalone',\n  assetPrefix : process.env.NEXT_DEPLOY_ASSET_PREFIX,\n  generateBuildId: async() =>process.env.NEXT_DEPLOY_RELEASE??null\n}\n",
		status: configHasLines,
	}, {
		name:   "its own assetPrefix",
		src:    "const nextConfig = {\n  assetPrefix: \"https://cdn.example.com\",\n};\nexport default nextConfig;\n",
		status: configByHand,
		want:   "const nextConfig = {\n  " + lineOutput + "\n  " + lineBuild + "\n  " + strings.TrimSuffix(lineAsset, ",") + ",\n};\nexport default nextConfig;\n",
		why:    `line 2 sets assetPrefix otherwise (assetPrefix: "https://cdn.example.com"), but next-deploy serves each release's assets under /<release>/_next/`,
	}, {
		name:   "output export",
		src:    "module.exports = {\n  output: \"export\",\n}\n",
		status: configByHand,
		want:   "module.exports = {\n  " + lineAsset + "\n  " + lineBuild + "\n  " + lineOutput + "\n}\n",
		why:    "line 2 sets output otherwise (output: \"export\")",
	}, {
		name:   "generateBuildId of its own, as a method",
		src:    "module.exports = {\n  " + lineOutput + "\n  " + lineAsset + "\n  async generateBuildId() {\n    return 'x'\n  },\n}\n",
		status: configByHand,
		want:   "module.exports = {\n  " + lineOutput + "\n  " + lineAsset + "\n  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,\n}\n",
		why:    "line 4 sets generateBuildId otherwise (async generateBuildId() { ...)",
	}, {
		name:   "a spread may set the keys",
		src:    "const nextConfig = {\n  ...base,\n  reactStrictMode: true,\n};\nexport default nextConfig;\n",
		status: configByHand,
		want:   "const nextConfig = {\n" + three + "  ...base,\n  reactStrictMode: true,\n};\nexport default nextConfig;\n",
		why:    "line 2 takes keys from elsewhere (...base)",
	}, {
		name:   "a function config",
		src:    "module.exports = (phase) => ({ reactStrictMode: true });\n",
		status: configByHand,
		why:    "line 1: the config is made by a function",
	}, {
		name:   "an async function config",
		src:    "export default async function config() {\n  return {}\n}\n",
		status: configByHand,
		why:    "the config is made by a function",
	}, {
		name:   "no export",
		src:    "const nextConfig = {};\n",
		status: configByHand,
		why:    "no export default or module.exports = at its top level",
	}, {
		name:   "two exports",
		src:    "module.exports = {};\nexport default {};\n",
		status: configByHand,
		why:    "it exports more than once (lines 1 and 2)",
	}, {
		name:   "two candidate objects",
		src:    "export default withA({ a: 1 })({ b: 2 });\n",
		status: configByHand,
		why:    "cannot tell which object is the config",
	}, {
		name:   "not JavaScript that init reads",
		src:    "module.exports = { a: \"open\n}\n",
		status: configByHand,
		why:    "line 1: unterminated string",
	}} {
		t.Run(c.name, func(t *testing.T) {
			p := planConfig(c.src)
			if p.status != c.status {
				t.Fatalf("status %d (%s), want %d", p.status, p.why, c.status)
			}
			if p.new != c.want {
				t.Errorf("new content:\n%s\nwant:\n%s", p.new, c.want)
			}
			if !strings.Contains(p.why, c.why) {
				t.Errorf("why %q, want it to say %q", p.why, c.why)
			}
			if c.status == configEdited && planConfig(p.new).status != configHasLines {
				t.Errorf("the edited config does not have the three lines:\n%s", p.new)
			}
		})
	}
}

// TestFixtureConfigHasTheLines: the fixture app's next.config.ts, which
// the tests build, is what init leaves alone.
func TestFixtureConfigHasTheLines(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "test", "fixtures", "next-app", "next.config.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if p := planConfig(string(src)); p.status != configHasLines {
		t.Errorf("status %d (%s), want the three lines found", p.status, p.why)
	}
}

func TestFindConfig(t *testing.T) {
	dir := t.TempDir()
	if got, err := findConfig(dir); got != "" || err != nil {
		t.Errorf("no config: %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "next.config.mjs"), nil, 0o644)
	if got, err := findConfig(dir); got != "next.config.mjs" || err != nil {
		t.Errorf("one config: %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "next.config.js"), nil, 0o644)
	if _, err := findConfig(dir); err == nil || !strings.Contains(err.Error(), "next.config.js and next.config.mjs") {
		t.Errorf("two configs: %v, want them named", err)
	}
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		tsconfig bool
		name     string
	}{{false, "next.config.mjs"}, {true, "next.config.ts"}} {
		if c.tsconfig {
			os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte("{}"), 0o644)
		}
		name, content := newConfig(dir)
		if name != c.name || planConfig(content).status != configHasLines {
			t.Errorf("newConfig: %s, want %s with the three lines:\n%s", name, c.name, content)
		}
	}
}
