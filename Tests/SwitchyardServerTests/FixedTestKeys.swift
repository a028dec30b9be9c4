/// RSA keys for the JWT and Vertex tests, generated once with `openssl genpkey` and fixed here:
/// generating RSA keys at test time (BoringSSL unoptimised in debug builds) held the cooperative
/// thread pool for seconds and starved the timing-sensitive tests running beside them.
/// Test material only: these keys protect nothing.
enum FixedTestKeys {
    static let rsa = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCa9mykvIRPZf5+
        lJNchWjuXRe3NODWX/isT6mwXH8v8inqAt8HzaeCJ63gn5HEVjt2ijRnqe1ej/hE
        kpMTwy9sfScaqNCeFvJ1hO28U9y+RLKBJbxbEq6hk/bQzLS7bwGsTmazcQNzcEm6
        DT4af9goMOlXsd9VQ6JyO115uTXGC13WvTbq8DCb8dziSea+6ae/4s6IDxkrPKjc
        EuVzswhPPJpZ66qzrN8WWJeqpAmNh0MQZzj8eS0IncIJCsXp+8/jyOVuRSa+Lhub
        2IzxVIHam56sbhPSWcrtEkFT0wfkeoTixpD6jLUNdABnWYKEbh43meE5cjqwvBVv
        +Z0/nUBTAgMBAAECggEABE+WU8+MwhAH0D9TiXo1TOruZcyE9AxvxLdjSe02JUAl
        i1rbbSz68SN9HP0YwdoA8HoayBwm5tUMJo2J+uhDUaTPqYMIaVrLvETflOLOXBqu
        zpSdVKPvPhPO2h3VFKEbbk7bYOLkIi99qufYZ5tRM5kHZ3Gi0WKUH9Jn9iLBYgop
        fN2vPjQPV2GEWtRikuGi31z9mE2HTsO3A16lPX2vxqup0XIIzs+coA2hAvQxIlDn
        TTkq2N3DQy/DIAxj8dTCJfsHJCnlAQQ9gVT5/z9J2cttbAgWqgWqXHYQo76pi90s
        urcJpCbtHbSYJSBM+VxrBu0frZR0DB1QQNf+ueGMDQKBgQDOdWKa75ZD07lYqSBW
        uvI7rAfCr0n0JyqQ/xXqU5LMhqnJgR/omsbc3axGM44FWttzISjSlllmoVWGZae8
        Ir5dhub8D1v6QU4eusMkVRQwTKXoTGUp5JONOxjNCfB39TO6AytvAWycYUizqXmG
        a+jaZwqveR/eYBRoJB00laTJtwKBgQDAJa1AbG+603lO7xVJQXZSW7h2l1e+6psH
        cjojwakHzZ0RVDHT56XBHaeC+SbmkboSPUuiy8rmQulExLW4YG1+tY2fQGORmV5J
        vw8XL124xXR0DuWYZv/3zCwVRxrB8TAaMzWEDMAnv6hESSydJwuWbIoN9rDRk1Mq
        aE6UcawuRQKBgGhvKnzTGsCeldAKZShaEnQq1hYd0xvkv/xufCh3M/evWq1qWriv
        qk5I937fT0TYK8+2A09a7Egk7f046LsbHA51UdxI7K7PX/PdZx62xqqT6wxxsG6b
        iCPVs/rrvy7+4raCKfNR1h3YfA0dejKL3VK08svGSl+TXF89fWR/GcdLAoGBAL8L
        dwQsDLccFmwmCOsKPGPMsE6xUVwQlU3FBAuTPMX2aOnW5agElWi6XFg787KiR/hk
        m3Rk3fstohNu5iNJNPUb/JDPi3Azpmz6mz15Kd1R7eSK/zsVhgFSLq6FQRR+A065
        hcciile7Fsm2W7ZxIPNSPb1+fvYRXko25ZJwpzplAoGACcnC22M8nIjMohUsxzF3
        FN2AGuAMDL/OY1wxtaalwdBZeazlnMS1hWGdCYNPmmdaxDOs+EKQtq+nP2FdxjS/
        1LBAj8Orn2YxeTNxLBaqmfhKYuv3d3vNJJXN12klR/XvRBki4kzk4DZjQ5EblGqo
        EHLjrnkA6jXEffQu7Oi5yGQ=
        -----END PRIVATE KEY-----
        """

    static let rsa2 = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDC4syszpk7CR3n
        owIprEx6Qfzk81w3lfpzn2e0U9xFq6jLe3y/HG7tNDs096pVhEsXpzH0tD4r0LdE
        HpFrcSwftE9aH4PhCGPXTrc9ervXsrPWjV59F4vyuKuvzNx/1tmhheGZLa0fKiAb
        TGdoBFmQi8cxPpdBXaQ71/Rpih49N6g8xw+ES7cYqTUDZyG6DMUKSfoqTzvO49qd
        83VKto8Rnt4UE8Gkr4hf8r6IPl4gu1VCkhaZTX+IHeAxyLDFZ1Ry6E7+6bKG/KeQ
        iyR+pRaUWlGav3VJB7YM67917TBaaXdCfwxjvlLIHVwefGirWYH1PdSZj0ZcBZEg
        azXSYp95AgMBAAECggEAK5QZFgxFte6KNh2cknKBkHYYhZ7IkHJ0VG4A+9EjyJ2D
        y2qT4M1MHbUoByZZe7FvND0SHei/HT+Y933JYUfniLhiZSH2dLfSUZc7wN7kya0f
        azrl9d1x0ScL1y4dYWXK+QQtx/mvhHBASTJqzhbo6zpiYqffHUICA1K9R+tXazMW
        v6avLtLFnGw62mXXvFgeHFMhsjRuOyRQ6Ai84MmFXDDhx9gl/Z9EsbPEcx8ve1bu
        5WORtAtD+vhPqrxfPODHQPBoyCzY7DI0xiOpl/9PBGhaEzZhuZQUP+Fb5zKBcDw0
        iQeFP9XefB4UH1NejL4o0Gc5OQ4dNMkkYXmf7czajQKBgQDievzM2wOqtQ7qXPTG
        BfM291Tb1B5WModFjqRsdgKCs0TEpmcU4Yyro+xhKz685hTAweY/eXOC7tL3AlsL
        XpopERyBw1b48oQyv+kwbr0UQGeenyjielCOt9lFrnt7sd0Doy4Us4VeyG0aYmNi
        PBK7ycz37kFvhlDQFZb8P+O3pQKBgQDcSZfdsRqWT2Kqk9kKn5twsVDs0wvuCKiE
        nZfsoauPb+q6VnbTc2ZkD5mwY8dHOJLK6YBzY5iH6qcNPWuKpNHOG7aJ0uBZlGp2
        4QT4iSQbDRe/DFUtDGRqfLqKtssuvSRLP3tXgcViEc1vIiDhJ4h23EsxXIk3GjZe
        hD2yzV+gRQKBgG6q2kzf2HLZ9mfe9FyvG6GIShcBF7HXDvKWORImuCNVpgzRox04
        +ZwFhcQVdZqocwuds/zgQ+l++edpZ0Ou/nWCvwNJiH4tQxvpWvEnq4zxy7Be5YOF
        cUfL3oeGMyDGUNEuM545+rnOBkIWQaoG4MCSY23jJmZwo5yKcDTio0thAoGBANUt
        qvfxcidP/83PclTjjIuMLSJiQsNCQcLEt8dZ1SrkRaW6ExgiL05aAoM+rBTyXKxd
        N99y3KN7o9oePDpZsmfhTc8m8dH+3ODadfMG1JgRHY/XIX6M5Yhf2C5xI0PB6qOf
        dX+DqD51t/b6chMyLM/J9EJ6qJdYmJDzLLoiIY55AoGAf6DAALl/oOhoDJ5YPQ8J
        hAsYKJeO8yXER7MZ13mResJQusMUxd+DwgNvrQV+rS1CdxCtZ5WxLRGDXzm2i2vh
        tsqWQ68XFnEi0xAxS/xBjcKyWdmdlRTx99lUYozmDZhztz880ze5MQJOXKHTLhVJ
        3ozm/KWWl05Cw8RkPrwZmQ4=
        -----END PRIVATE KEY-----
        """

    static let attacker = """
        -----BEGIN PRIVATE KEY-----
        MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCWMMroSuK3K6mP
        zdVpC7JD+EMMlLuHcqQUAqtRa4uwoIxWPEQ7v4bUuy0WKlgh2qMD/pqtRuH+yw9O
        WhcYGF1EOVPgQ769CunuvFj6GdI/LbJt7W82ePXpWU4WRM8MhPHBri6pwlpq3M3V
        YUpEP+bib8pqlVSjV225GxEpuCKSnYbw8JiWO+WvBnCeB3GjwAWrbgrHMFZu7XKU
        XsaiLUeBpvVwqRnR0fHSY4CJfG9KQW/ySSX22wpQpI47ZHIQErYiQvyelw2tQIwJ
        UuXUmEoZjBylpjcerQH1y6Y+1KAH4sGXNW14DD1uyS3Ke6fKRQ5oAT3SHa3FJtEe
        JjWCxtXBAgMBAAECggEAAZun6ja2L3xfXkcJ7yeGTB/uhdhs0gIKQC/h1+c3aGoJ
        Wgu6Wt3W2FSX/gVwrzIbdzUXHBUwBgkrLhsKnHjlc5kU0aN7eX9SPPGDYDlGw9Ew
        U/swob5scZpmSHP37tL9I4GwvJE0ZEQncU6q5Ns+uQ7abJA2q5hSynStsorm+wCC
        No6EsHOQNQhNCcVzKXUOivjiEzXwD6wDWmkXwb7t71fUB7RhQmrB53FSIZ5Y82Ko
        RikREu8yxovtoZ/JxraRXYAIQ778GXDlnvvj4W6WviZI7jKtr+1HTD+BSTkkeTJJ
        n3dJHtTg/QItxclfV1fexChlwhAkZIjNBnFBUjfibQKBgQDEguX3FyBabe5W7quL
        MZ0EklYH0u2xzUQ6zEI99Bekf1jSUmudPl9YChXjOHLh1+D0lwMR00/ArpICkTQD
        rdNDZP/QnGKUIH4q+csI9RnXW6hHdORR9TWqvFnG4R6pCDGCK6WcN1iTgNe7Yj8H
        uEMC8pOxzwlxHgHNEO2zYuYvRQKBgQDDqCl5ahAwadX/4qY8CNpWB6XJWn0nGYkn
        ra4pOqmDYIUrgq6ZlvJSGL8UIgvBYKSLXymj0e3fwNpi91EiORqcIwZbCVh7HU1c
        PnKVBoRQJsIYU8FZx+xYm+FK3w82rtZbnaFZrEcPOf2Dq+aUrn/FKi9pXd6HzCuZ
        rWZ1yCMGTQKBgAKstWyTiAEzFddhEDyoxDZXt4wLtuiAnrkeJpipRdkbUp4qOQS+
        4JVWLc4V6ppgUdOCaqxHcAJzXdFjII4cQ4/bRBAW0NCrUIxNMhJBI8Tmnne6g5EK
        AVz9i0tFrSEn12SqK2rg5fe7/TOztp/oRiE4JAJ7iulbOzMLU/DpG7DxAoGAK7vV
        8W60ya2OiRDnaXntG9e/xf81BF1f2/+lc0/KfjQ/8BbY4jnsVk9zvpNRn1rzzLdr
        vlN5YU9hQUfY2dZ7zTTDAexX28UT+q92uzrmrmfLcNaf3GqkuLW3KR4s72MrRPU6
        EKpCg/PJZ/ovo0JSCwc/68RwrlgD0ukAgwlGUu0CgYBqLuRfXs/XB43QA/nGhaIc
        eHTkr7QugA0cUhzAYSGqmN66oJGSoPAvOjBrYTHDC76ZUtXbRJzac3xkBHJBWzii
        qZTRIJtFPisxkY+aF6l+jZKVQQQe2duT89clOP8gu/bIW1JNVvVXMpxF8W9R5d7R
        MKQKk6NOFnVpwViPKSbHJA==
        -----END PRIVATE KEY-----
        """

    static let vertex = """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCvGywTZaya3FZ2
        a+egk5qM5ceTQwSfMX4aQm8Tn/dDPi7xJF+8BhlhbrDK6BJouBIvcdzGIBsEwPvh
        aq+jU3U2Eo2PcZBZPLJvlBzFZsuJxoVBfkPM25lKpBmG0Paxfj2KSTSgzn8ZIjjK
        VPM68YfuVhG96q3N0LFqzL/92/cHP7/kkYPfCzLt6KIWUwGTIwjl/LUmS+tmiKZr
        MXJA89tQhQz2VvKFNKM0NVWVAyMGe6fpgHdNQKTyofEdyP6rDVcbnq6cSPw0esD/
        smnsvsAsKNNI7zUZVHR59kZ4bHFXUB4Hlt1u1hYqbxneYd2mCke2o8FWutDYu7bV
        ysExhDr9AgMBAAECggEAAkl0oYZQZhVI1vvIS100VA4UHk/Fjr/ibsKXxQR1nw3/
        7C1gpJ5C9LwDG5dOkJts1NTvkeCWJhz+2kD71fDbE4+OD8uP+NCSmh2Yb8g1Y4ua
        IvtoNIJY5ctSjWOXDNyID+iuWk2TBg7lkQa+r09HMyMDrhP2aHdkC55spCIE+bYJ
        D1JzWK8v9wcOY40dZqObU6JXXVwnqH08wC81AVY6neynKGufRV4WCyjBA12YNcRN
        lv6maQG2W8VydO9yLuVLSlrzxPxI5oa1XnRp+J11xBVmRFVuan921MdmJiwEu3Oe
        SW62Ux7gzCMK2dpscdcRS04/aYl7rmX9Nq/AjcjUOQKBgQDbSPGkFSe0q4C0jBrW
        D2pQubwZM3NhHPt0NoX/2zFihUzVSW8tuWFz6sUbdhab4FTriBe50/dCbFAOpyBK
        lKEKcU3jUgwV/gUsRBNs7koI/j209BoSq3wjSo2Swj10tFbKseuraV1nT727GqNn
        EMfy9NPD9Qq6GccPhqYeLlLBqQKBgQDMbJ+j5zrl7nbd1u9IAicGjq8ffNlrHlgR
        67Ren8RuBYJFlpt/hPMVrqHDXDY5WIDN+n3SBDe+tBWTvjfNeBpVifY23X03mCd0
        c05u3Q9hWR1SYn2W/H30dnnOPA6zRgWzTMck/jZUguBim/bt3jMA3dG0niRXkzCr
        RGLZpzzrNQKBgQCf5NllxpM0NxXbEIoE6iqggD46tfx8pHBp9dPRk1e4OfCjWS97
        TMBVkKt28a1crb/eGlcKhhe2VFovxQdTunqOrb2YctwjMR0+gMkVVc+gLRp7lr5o
        PKiA5zzB9WZwcYsTs5ZfX63exhNXmf3qCh9x9blwGn5e4qr2lD0OpsJrOQKBgQC6
        t2yI9KcjZVBFCBC+oNiscJ8cD5k28hxXIgc5doygQX/ft9SIARNW9o7iNdOBRYlA
        mk9aCGgyU6JxtAicL9s9zimJq3y3zs4a20cEk/18WT0jBrrXsgAJzj0rVkfHD2od
        fz9WVquhPXleGD7OvWmwnOryIo/nPZXymSAA1XQbEQKBgBB8jKDgEnhAv6OTHbTj
        qw5WX4brf6bcrVjpF8e0+dfM3y39275YOOi/MeGo2lFuRNSW4PkszHlfYjAKbZJZ
        ITrDFq4m071LClV1uq8YBsfaFhdAv2aDYe4Kn0wIcfu37qewwyoZt3eZSZwptNkg
        DFc5vjLvpFDMLCy5mLvCEeY+
        -----END PRIVATE KEY-----
        """

    static let weak = """
        -----BEGIN PRIVATE KEY-----
        MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAMFxvdiGt7riK75u
        zBv+tVdQVK4/lQtoDP1gXlf/beKWfb5p5bF1d7PRsWd0I0+N2bRi8dxxa+HpiSdR
        rgDANcphxqurnl6ixilQ0VFSfBAg4X0L6ibz9w2eGCaVA8yaG3T9NFSvXcLbCp2e
        7g7tiOEvCVU/sSlQBpSwOpHUEI0TAgMBAAECgYEAloVdtsUk47snVJe8JLBuBJHS
        Qn/hBq4hJWs+HfT4WQ7Gq0qVWx9PVFF/XEOHUljLJMy069YpnvDsMvcgkR7++q+L
        tiX/GIbJxMdJgKLCcSAzgGGAIzGKAVPTFXdp+ROLSkHub6WQMztvv9VRS/gojuDJ
        DHqXGIO548z6K3UEF7ECQQDqkdDHoDBJb5i3xCq4+MT5LIaxw6zhwiJKCc5KCt2N
        kXONPPkkVZ4/fGhqw/hfKmVUEnQzdgE/pBKN81uoRQ/pAkEA0x4TSvqhFDRyBShm
        eBVowBlSPCrr0XOSHfPNWqSX+QYse84f5je5ewPq831j5Ly8asfTCdqLTV84+Lyr
        cyCzmwJANTC9hBbp/C0HF1yvR2R53frfzD2P3V2VQu64TYfrN2ftKPDTmg6kJMdE
        Mjmf/4xwj8DjgqvWmqTM5E1z0lNeyQJBALQt/e9HGkTBQfLO+S1RsFYLBlldlGft
        R+6STlgnE6EwOLTtReJY+s9Xl6V6BdCJmBFWO/Iz+CHvvBLmCzm11jMCQQDJC/+u
        AY4iwb4313l4vw/OtXIOlDyoWoOo+EpBP5+lWMEhSdbpvduBOCaEWtiTR+An5B4s
        qPxCdpcDSIBZinoU
        -----END PRIVATE KEY-----
        """
}
